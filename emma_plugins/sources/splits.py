"""Stratified train/validation/test splits and standardization fitted on the training split.

The thesis (section 6.1) splits HTRU2 with stratification, about 67 % for training and the
rest halved into validation and test, and standardizes with the training split's statistics
only, so that nothing about validation or test data leaks into training.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from emma_plugins.core.errors import DataError
from emma_plugins.sources.container import SPLIT_NAMES, MultiModalData
from emma_plugins.sources.tables import FLOAT32_MAX, check_finite, first_bad_cell

#: The thesis' share of each class drawn for training (section 6.1); the rest is halved.
TRAIN_FRACTION = 0.67
#: A column whose training standard deviation is below this is only centred, not scaled.
MIN_STD = 1e-12
#: Fewer rows of a class than this in a split draws a `DataWarning` (scores too coarse).
MIN_ROWS_PER_CLASS = 5


class DataWarning(UserWarning):
    """The data allow a run, but its scores will mean little (a split too small, a class
    missing from validation or test)."""


class Standardizer:
    """Per-column mean and standard deviation, fitted on one data set, applied to any.

    Uses the population standard deviation (``ddof=0``). Constant columns get a scale of 1,
    so they become 0 instead of NaN. Nothing is scaled silently wrong: a NaN or infinite
    input, statistics that overflow float64 (a value like ``1e308``) and a scaled value
    beyond float32's range (the models' precision) raise a `DataError` naming the column
    and the row. ``rows``, where given, are the rows' positions in a larger data set (what
    `split` passes), used in those messages.
    """

    def __init__(self) -> None:
        self.mean_: pd.Series | None = None
        self.std_: pd.Series | None = None

    @property
    def fitted(self) -> bool:
        return self.mean_ is not None

    def fit(
        self, data: MultiModalData, *, rows: ArrayLike | None = None, skip_nan: bool = False
    ) -> Standardizer:
        """Statistics of every column; with ``skip_nan`` missing values (NaN) are left out."""
        values = data.features.astype(np.float64)
        if len(values) == 0:
            raise DataError(f"Cannot fit a Standardizer on an empty data set ({data.name!r}).")
        positions = _positions(rows, len(values))
        check_finite(values, f"data set {data.name!r}", positions, limit=np.inf, skip_nan=skip_nan)
        empty = [c for c in values.columns if values[c].isna().all()]
        if empty:
            raise DataError(
                f"data set {data.name!r}: column {str(empty[0])!r} has no value in the training "
                "split, so it cannot be standardized; drop it from the modes."
            )
        with np.errstate(over="ignore", invalid="ignore"):
            mean = values.mean(axis=0)
            std = values.std(axis=0, ddof=0)
        overflowed = [c for c in values.columns if not np.isfinite([mean[c], std[c]]).all()]
        if overflowed:
            column = overflowed[0]
            row = int(np.argmax(np.abs(values[column].to_numpy())))
            raise DataError(
                f"data set {data.name!r}: column {str(column)!r} cannot be standardized: its "
                f"mean or standard deviation overflows float64 (mean {mean[column]:g}, std "
                f"{std[column]:g}). Its largest value, {values[column].iloc[row]:g} at row "
                f"{positions[row]}, is most likely corrupt; fix or drop that row."
            )
        self.mean_ = mean
        self.std_ = std.where(std >= MIN_STD, 1.0)
        return self

    def transform(
        self, data: MultiModalData, *, rows: ArrayLike | None = None, skip_nan: bool = False
    ) -> MultiModalData:
        """A new data set with every column scaled; the input is left untouched. With
        ``skip_nan`` missing values (NaN) stay NaN."""
        if self.mean_ is None or self.std_ is None:
            raise DataError("Standardizer is not fitted: call fit(train) first.")
        missing = [c for c in self.mean_.index if c not in data.features.columns]
        if missing:
            raise DataError(
                f"data set {data.name!r} lacks columns {missing} the Standardizer was fitted on."
            )
        columns = list(self.mean_.index)
        raw = data.features[columns].astype(np.float64)
        positions = _positions(rows, len(raw))
        check_finite(raw, f"data set {data.name!r}", positions, limit=np.inf, skip_nan=skip_nan)
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = (raw - self.mean_) / self.std_
        cell = first_bad_cell(scaled.to_numpy(), FLOAT32_MAX, skip_nan=skip_nan)
        if cell is not None:
            row, column = cell
            value, result = raw.to_numpy()[row, column], scaled.to_numpy()[row, column]
            raise DataError(
                f"data set {data.name!r}: row {positions[row]}, column {str(columns[column])!r}: "
                f"{value:g} standardizes to {result:g}, beyond "
                f"float32's range (±{FLOAT32_MAX:.3g}), the precision the models compute in "
                f"(training mean {self.mean_.iloc[column]:g}, std {self.std_.iloc[column]:g}). "
                "The value is most likely corrupt; fix or drop that row."
            )
        return data.replace_features(scaled)

    def fit_transform(self, data: MultiModalData) -> MultiModalData:
        return self.fit(data).transform(data)

    def to_dict(self) -> dict[str, dict[str, float]]:
        """JSON-ready statistics, to store beside a checkpoint."""
        if self.mean_ is None or self.std_ is None:
            raise DataError("Standardizer is not fitted: call fit(train) first.")
        return {
            "mean": {str(k): float(v) for k, v in self.mean_.items()},
            "std": {str(k): float(v) for k, v in self.std_.items()},
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Standardizer:
        """The scaler `to_dict` described; NaN, infinite or non-positive statistics are refused."""
        scaler = cls()
        scaler.mean_ = pd.Series(state["mean"], dtype=np.float64)
        scaler.std_ = pd.Series(state["std"], dtype=np.float64)[scaler.mean_.index]
        bad = [
            str(c)
            for c in scaler.mean_.index
            if not (np.isfinite(scaler.mean_[c]) and np.isfinite(scaler.std_[c]))
            or scaler.std_[c] <= 0
        ]
        if bad:
            raise DataError(
                f"Standardizer statistics for column {bad[0]!r} are not usable (mean "
                f"{scaler.mean_[bad[0]]:g}, std {scaler.std_[bad[0]]:g}); both must be finite "
                "and the std positive. The saved scaler is corrupt: fit it again."
            )
        return scaler


def _positions(rows: ArrayLike | None, n: int) -> NDArray[np.int64]:
    positions = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    if positions.shape != (n,):
        raise DataError(f"rows must give one position per row ({n}), got shape {positions.shape}.")
    return positions


@dataclass(frozen=True)
class Splits:
    """The three splits, the positions of their rows in the source data and the scaler.

    Unpacks as ``train, val, test = splits``.
    """

    train: MultiModalData
    val: MultiModalData
    test: MultiModalData
    indices: dict[str, NDArray[np.int64]] = field(repr=False)
    standardizer: Standardizer | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator[MultiModalData]:
        return iter((self.train, self.val, self.test))


def split(
    data: MultiModalData,
    seed: int,
    train: float = TRAIN_FRACTION,
    *,
    standardize: bool = True,
    allow_missing: bool = False,
) -> Splits:
    """Stratified split: ``train`` of each class for training, the rest halved.

    Per class, ``round(train * n_c)`` rows go to training; an odd remainder gives its extra
    row alternately to validation and test (first odd class to validation), so the two stay
    within one row of each other. For HTRU2 this reproduces table 6.1 of the thesis exactly.
    Rows within each split are in a seeded random order. With ``standardize`` the scaler is
    fitted on the training split only and applied to all three.

    A data set with a ``predefined_split`` keeps it: its rows go where their labels say
    (in a seeded order) and ``train`` is ignored.

    Refused with a `DataError`: a NaN, infinite or float32-overflowing feature (naming the
    row and column), an empty training or test split, and, for a classification task, a
    training split with fewer than two classes. A split that lacks a class, or holds fewer
    than `MIN_ROWS_PER_CLASS` rows of one, draws a `DataWarning`: the run can go on, but
    scores of such a split are undefined or coarse (see `check_split`).

    With ``allow_missing`` a NaN is a missing value, left for the caller (`emma fit`'s
    per-mode ``on_missing``): the scaler skips it and it stays NaN.
    """
    if not 0.0 < train < 1.0:
        raise DataError(f"train must be a fraction strictly between 0 and 1, got {train!r}.")
    check_finite(data.features, f"data set {data.name!r}", skip_nan=allow_missing)
    if data.predefined_split is not None:
        parts = predefined_indices(data.predefined_split, seed, data.name)
    else:
        parts = stratified_indices(data.target, seed, train)
    check_split(data, parts)
    names = ("train", "val", "test")
    splits = [data.subset(parts[name]) for name in names]
    scaler = None
    if standardize:
        scaler = Standardizer().fit(splits[0], rows=parts["train"], skip_nan=allow_missing)
        splits = [
            scaler.transform(part, rows=parts[name], skip_nan=allow_missing)
            for part, name in zip(splits, names, strict=True)
        ]
    train_split, val_split, test_split = splits
    return Splits(train_split, val_split, test_split, indices=parts, standardizer=scaler)


def check_split(data: MultiModalData, parts: dict[str, NDArray[np.int64]]) -> None:
    """Refuse splits nothing meaningful can be trained or scored on; warn about weak ones.

    `DataError` (the run would train on nothing, or score nothing): an empty training or
    test split; for ``binary``/``multiclass`` data, a training split with fewer than two
    classes. `DataWarning` (the run works, but some scores are undefined or coarse): a
    class of the data set absent from a non-empty split, or with fewer than
    `MIN_ROWS_PER_CLASS` rows in one. An empty validation split is allowed only for a
    predefined split (where it is a choice, ``val_fraction=0``).
    """
    where = f"data set {data.name!r}"
    counts = {
        name: np.bincount(data.target[rows], minlength=data.n_classes)
        for name, rows in parts.items()
    }
    overall = data.class_counts()
    hint = f"The whole data set has {_class_list(overall)}; " + (
        "check its target (a loader reading the wrong column, or a filter that kept one class)."
        if np.count_nonzero(overall) < 2
        else "use more rows, or a predefined split that gives each split every class."
    )
    for name in ("train", "test"):
        if counts[name].sum() == 0:
            raise DataError(f"{where}: the {name} split is empty. {hint}")
    if data.task == "unsupervised":
        return
    if np.count_nonzero(counts["train"]) < 2:
        raise DataError(
            f"{where}: the training split holds only {_class_list(counts['train'])}; a "
            f"classifier needs at least two classes to learn from. {hint}"
        )
    problems = []
    present = np.flatnonzero(overall)
    for name in SPLIT_NAMES:
        if counts[name].sum() == 0 and name == "val" and data.predefined_split is not None:
            continue
        missing = [int(c) for c in present if counts[name][c] == 0]
        few = [int(c) for c in present if 0 < counts[name][c] < MIN_ROWS_PER_CLASS]
        if missing:
            problems.append(
                f"the {name} split has no rows of {_classes(missing)} (scores for them are "
                "undefined; F1 reads 0.0)"
            )
        if few:
            fewest = int(min(counts[name][c] for c in few))
            problems.append(
                f"the {name} split has fewer than {MIN_ROWS_PER_CLASS} rows of "
                f"{_classes(few)} (as few as {fewest})"
            )
    if problems:
        warnings.warn(
            f"{where} ({len(data)} rows) is too small to split meaningfully: "
            f"{'; '.join(problems)}. Use more rows, or expect unreliable scores.",
            DataWarning,
            stacklevel=3,
        )


def _classes(labels: list[int]) -> str:
    shown = ", ".join(map(str, labels[:4])) + (f", ... {labels[-1]}" if len(labels) > 4 else "")
    return f"class {shown}" if len(labels) == 1 else f"classes {shown}"


def _class_list(counts: NDArray[np.int64]) -> str:
    shown = [f"{int(n)} row{'s' if n != 1 else ''} of class {c}" for c, n in enumerate(counts) if n]
    return ", ".join(shown) if shown else "no rows"


def stratified_indices(
    target: NDArray[np.int64], seed: int, train: float = TRAIN_FRACTION
) -> dict[str, NDArray[np.int64]]:
    """Row positions of the train/val/test splits (see `split` for the counts)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[NDArray[np.int64]]] = {"train": [], "val": [], "test": []}
    extra_to_val = True
    for label in np.unique(target):
        rows = rng.permutation(np.flatnonzero(target == label))
        n_train = int(np.floor(train * len(rows) + 0.5))
        rest = len(rows) - n_train
        n_val = rest // 2
        if rest % 2:
            n_val += int(extra_to_val)
            extra_to_val = not extra_to_val
        parts["train"].append(rows[:n_train])
        parts["val"].append(rows[n_train : n_train + n_val])
        parts["test"].append(rows[n_train + n_val :])
    return {
        name: rng.permutation(np.concatenate(chunks)).astype(np.int64)
        if chunks
        else np.empty(0, dtype=np.int64)
        for name, chunks in parts.items()
    }


def predefined_indices(
    labels: NDArray[np.str_], seed: int, name: str = "data"
) -> dict[str, NDArray[np.int64]]:
    """Row positions of the rows labelled ``train``/``val``/``test``, each in a seeded order."""
    rng = np.random.default_rng(seed)
    parts = {part: rng.permutation(np.flatnonzero(labels == part)) for part in SPLIT_NAMES}
    empty = [part for part in ("train", "test") if len(parts[part]) == 0]
    if empty:
        raise DataError(
            f"data set {name!r}: its predefined split has no {' and no '.join(empty)} rows; "
            "label some rows 'train' and some 'test'."
        )
    return {part: rows.astype(np.int64) for part, rows in parts.items()}


def carve_validation(
    target: NDArray[np.int64], rows: NDArray[np.int64], fraction: float, seed: int
) -> NDArray[np.int64]:
    """A class-stratified ``fraction`` of ``rows`` (``round(fraction * n_c)`` per class).

    For data sets whose official split has no validation set: the returned rows move from
    training to validation.
    """
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"val_fraction must lie in [0, 1), got {fraction!r}.")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(target[rows]):
        members = rng.permutation(rows[target[rows] == label])
        chosen.append(members[: int(np.floor(fraction * len(members) + 0.5))])
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else rows[:0]
