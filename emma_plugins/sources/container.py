"""`MultiModalData`: named feature columns grouped into modes, with a class target.

A dataset is kept as one table (so scaling and splitting act on named columns) plus the
grouping of those columns into modes; models get one float32 tensor per mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar, cast

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike, NDArray
from torch import Tensor

from emma_plugins.core.errors import DataError

Task = Literal["binary", "multiclass", "unsupervised"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "unsupervised")
FactoryT = TypeVar("FactoryT", bound=Callable[..., object])


def declares_task(task: Task, n_classes: int) -> Callable[[FactoryT], FactoryT]:
    """Mark a dataset factory with the task and class count its data always have.

    The spec's cross-field checks then refuse an ``out_features`` that does not fit before
    any data is loaded (``emma validate``): 1 for a binary task, ``n_classes`` for a
    multi-class one. The attributes are ``factory.task`` and ``factory.n_classes``.
    """

    def mark(factory: FactoryT) -> FactoryT:
        setattr(factory, "task", task)  # noqa: B010 - a function has no declared attribute
        setattr(factory, "n_classes", n_classes)  # noqa: B010
        return factory

    return mark


#: The values of a predefined split, one per row.
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class MultiModalData:
    """Features in named columns, grouped into modes, and an integer class target.

    ``task`` is ``"binary"`` (targets 0/1, 1 the positive class), ``"multiclass"``
    (targets ``0..n_classes-1``) or ``"unsupervised"`` (point sets for energy-estimator
    experiments: a zero target and no classifier to train). The object is never changed in
    place: `subset` and the scaling helpers return new objects.

    ``shapes`` gives a mode's per-sample shape when it is not a flat vector (an image
    ``(1, 8, 8)``, a spectrogram ``(T, F)``); its columns hold the values in row-major
    order. Modes absent from it are flat, ``(width,)``. ``predefined_split`` labels each
    row ``"train"``, ``"val"`` or ``"test"`` for data sets that come with their own split
    (an official test set, or pairings that must not cross splits); `split` then uses it
    instead of drawing a random one. ``class_names`` names each class, index = class
    number, for data sets whose labels were names (``"benign"``, ``"malignant"``).
    """

    name: str
    features: pd.DataFrame
    target: NDArray[np.int64]
    modes: dict[str, list[str]]
    task: Task
    n_classes: int
    description: str = field(default="", compare=False)
    shapes: dict[str, tuple[int, ...]] | None = None
    predefined_split: NDArray[np.str_] | None = None
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", self.features.reset_index(drop=True))
        object.__setattr__(self, "target", _as_target(self.target, self.name))
        object.__setattr__(
            self, "modes", {str(k): [str(c) for c in v] for k, v in self.modes.items()}
        )
        if self.shapes is not None:
            shapes = {str(k): tuple(int(d) for d in v) for k, v in self.shapes.items()}
            object.__setattr__(self, "shapes", shapes)
        if self.predefined_split is not None:
            labels = np.asarray(self.predefined_split).astype(str)
            object.__setattr__(self, "predefined_split", labels)
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        self._validate()
        self._validate_shapes()
        self._validate_predefined_split()

    def _validate(self) -> None:
        where = f"data set {self.name!r}"
        if self.task not in TASKS:
            raise DataError(f"{where}: task must be one of {', '.join(TASKS)}, got {self.task!r}.")
        if len(self.target) != len(self.features):
            raise DataError(
                f"{where}: target has {len(self.target)} rows but features have "
                f"{len(self.features)}; they must match row for row."
            )
        if not self.modes:
            raise DataError(f"{where}: modes is empty; give at least one mode -> columns entry.")
        columns = set(map(str, self.features.columns))
        seen: dict[str, str] = {}
        for mode, names in self.modes.items():
            if not names:
                raise DataError(f"{where}: mode {mode!r} lists no columns.")
            missing = [c for c in names if c not in columns]
            if missing:
                raise DataError(f"{where}: mode {mode!r} names unknown columns {missing}.")
            for column in names:
                if column in seen:
                    raise DataError(
                        f"{where}: column {column!r} is in modes {seen[column]!r} and {mode!r}; "
                        "a column belongs to one mode only."
                    )
                seen[column] = mode
        expected = {"binary": 2, "unsupervised": 1}.get(self.task)
        if expected is not None and self.n_classes != expected:
            raise DataError(f"{where}: task {self.task!r} needs n_classes={expected}.")
        if self.task == "multiclass" and self.n_classes < 2:
            raise DataError(f"{where}: a multiclass task needs n_classes >= 2.")
        if len(self.target) and (self.target.min() < 0 or self.target.max() >= self.n_classes):
            raise DataError(
                f"{where}: targets must lie in 0..{self.n_classes - 1}, found "
                f"{int(self.target.min())}..{int(self.target.max())}."
            )
        if self.class_names is not None and len(self.class_names) != self.n_classes:
            raise DataError(
                f"{where}: class_names lists {len(self.class_names)} names for "
                f"{self.n_classes} classes; give one name per class, in class order."
            )

    def _validate_shapes(self) -> None:
        where = f"data set {self.name!r}"
        for mode, shape in (self.shapes or {}).items():
            if mode not in self.modes:
                raise DataError(f"{where}: shapes names unknown mode {mode!r}.")
            width = len(self.modes[mode])
            if not shape or min(shape) < 1 or math.prod(shape) != width:
                raise DataError(
                    f"{where}: shapes[{mode!r}] = {shape} does not fit the mode's {width} "
                    "columns; give positive sizes whose product is the column count."
                )

    def _validate_predefined_split(self) -> None:
        labels = self.predefined_split
        if labels is None:
            return
        where = f"data set {self.name!r}"
        if labels.shape != (len(self.target),):
            raise DataError(
                f"{where}: predefined_split has shape {labels.shape}; give one label per row "
                f"({len(self.target)})."
            )
        unknown = sorted(set(np.unique(labels).tolist()) - set(SPLIT_NAMES))
        if unknown:
            raise DataError(
                f"{where}: predefined_split holds {unknown}; each row must be one of "
                f"{', '.join(SPLIT_NAMES)}."
            )

    # -- shape ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.target)

    @property
    def mode_names(self) -> list[str]:
        return list(self.modes)

    @property
    def mode_shapes(self) -> list[tuple[int, ...]]:
        """Per-sample shape of each mode, the ``mode_shapes`` context of networks."""
        shapes = self.shapes or {}
        return [shapes.get(mode, (len(columns),)) for mode, columns in self.modes.items()]

    def class_counts(self) -> NDArray[np.int64]:
        """Samples per class, index = class."""
        return np.bincount(self.target, minlength=self.n_classes).astype(np.int64)

    # -- views ----------------------------------------------------------------------------
    def mode_arrays(self, modes: Sequence[str] | None = None) -> list[NDArray[np.float32]]:
        """One float32 array ``(N, *shape)`` per mode, in ``modes`` order (default: all).

        Flat modes give ``(N, width)``; modes with an entry in ``shapes`` are reshaped.
        """
        shapes = self.shapes or {}
        arrays = []
        for name in self._select(modes):
            values = self.features[self.modes[name]].to_numpy(dtype=np.float32, copy=True)
            shape = shapes.get(name)
            arrays.append(values if shape is None else values.reshape(len(values), *shape))
        return arrays

    def to_tensors(
        self, modes: Sequence[str] | None = None, device: torch.device | str | None = None
    ) -> tuple[list[Tensor], Tensor]:
        """Float32 tensors ``(N, *shape)`` per mode (in ``modes`` order) and the int64 target."""
        tensors = [torch.from_numpy(a).to(device) for a in self.mode_arrays(modes)]
        return tensors, torch.from_numpy(self.target.copy()).to(device)

    def subset(self, indices: ArrayLike) -> MultiModalData:
        """The rows at ``indices`` (positions, in the given order) as a new object."""
        index = np.asarray(indices)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        labels = self.predefined_split
        return replace(
            self,
            features=self.features.iloc[index].reset_index(drop=True),
            target=self.target[index],
            predefined_split=None if labels is None else labels[index],
        )

    def replace_features(
        self, features: pd.DataFrame, target: NDArray[np.int64] | None = None
    ) -> MultiModalData:
        """A copy with new feature values (same modes, shapes, split, task and name)."""
        return replace(
            self, features=features, target=self.target.copy() if target is None else target
        )

    def _select(self, modes: Sequence[str] | None) -> list[str]:
        if modes is None:
            return self.mode_names
        unknown = [m for m in modes if m not in self.modes]
        if unknown:
            raise DataError(
                f"data set {self.name!r} has no mode(s) {unknown}; "
                f"available: {', '.join(self.modes)}."
            )
        return list(modes)

    def __repr__(self) -> str:
        widths = ", ".join(f"{k}={len(v)}" for k, v in self.modes.items())
        return (
            f"MultiModalData({self.name!r}, n={len(self)}, modes=({widths}), "
            f"task={self.task!r}, n_classes={self.n_classes})"
        )


def _as_target(target: ArrayLike, name: str) -> NDArray[np.int64]:
    array = np.asarray(target)
    if array.ndim != 1:
        raise DataError(f"data set {name!r}: target must be 1-D, got shape {array.shape}.")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise DataError(f"data set {name!r}: target must hold whole class numbers.")
    elif array.dtype.kind not in "iub":
        raise DataError(f"data set {name!r}: target must be integers, got dtype {array.dtype}.")
    return cast(NDArray[np.int64], array.astype(np.int64, copy=True))
