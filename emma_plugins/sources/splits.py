"""Stratified train/validation/test splits and standardization fitted on the training split.

The thesis (section 6.1) splits HTRU2 with stratification, about 67 % for training and the
rest halved into validation and test, and standardizes with the training split's statistics
only, so that nothing about validation or test data leaks into training.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emma_plugins.core.errors import DataError
from emma_plugins.sources.container import SPLIT_NAMES, MultiModalData

#: A column whose training standard deviation is below this is only centred, not scaled.
MIN_STD = 1e-12


class Standardizer:
    """Per-column mean and standard deviation, fitted on one data set, applied to any.

    Uses the population standard deviation (``ddof=0``). Constant columns get a scale of 1,
    so they become 0 instead of NaN.
    """

    def __init__(self) -> None:
        self.mean_: pd.Series | None = None
        self.std_: pd.Series | None = None

    @property
    def fitted(self) -> bool:
        return self.mean_ is not None

    def fit(self, data: MultiModalData) -> Standardizer:
        values = data.features.astype(np.float64)
        if len(values) == 0:
            raise DataError(f"Cannot fit a Standardizer on an empty data set ({data.name!r}).")
        std = values.std(axis=0, ddof=0)
        self.mean_ = values.mean(axis=0)
        self.std_ = std.where(std >= MIN_STD, 1.0)
        return self

    def transform(self, data: MultiModalData) -> MultiModalData:
        """A new data set with every column scaled; the input is left untouched."""
        if self.mean_ is None or self.std_ is None:
            raise DataError("Standardizer is not fitted: call fit(train) first.")
        missing = [c for c in self.mean_.index if c not in data.features.columns]
        if missing:
            raise DataError(
                f"data set {data.name!r} lacks columns {missing} the Standardizer was fitted on."
            )
        columns = list(self.mean_.index)
        scaled = (data.features[columns].astype(np.float64) - self.mean_) / self.std_
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
        scaler = cls()
        scaler.mean_ = pd.Series(state["mean"], dtype=np.float64)
        scaler.std_ = pd.Series(state["std"], dtype=np.float64)[scaler.mean_.index]
        return scaler


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
    data: MultiModalData, seed: int, train: float = 0.67, *, standardize: bool = True
) -> Splits:
    """Stratified split: ``train`` of each class for training, the rest halved.

    Per class, ``round(train * n_c)`` rows go to training; an odd remainder gives its extra
    row alternately to validation and test (first odd class to validation), so the two stay
    within one row of each other. For HTRU2 this reproduces table 6.1 of the thesis exactly.
    Rows within each split are in a seeded random order. With ``standardize`` the scaler is
    fitted on the training split only and applied to all three.

    A data set with a ``predefined_split`` keeps it: its rows go where their labels say
    (in a seeded order) and ``train`` is ignored.
    """
    if not 0.0 < train < 1.0:
        raise DataError(f"train must be a fraction strictly between 0 and 1, got {train!r}.")
    if data.predefined_split is not None:
        parts = predefined_indices(data.predefined_split, seed, data.name)
    else:
        parts = stratified_indices(data.target, seed, train)
    splits = [data.subset(parts[name]) for name in ("train", "val", "test")]
    scaler = None
    if standardize:
        scaler = Standardizer().fit(splits[0])
        splits = [scaler.transform(s) for s in splits]
    train_split, val_split, test_split = splits
    return Splits(train_split, val_split, test_split, indices=parts, standardizer=scaler)


def stratified_indices(
    target: NDArray[np.int64], seed: int, train: float = 0.67
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
