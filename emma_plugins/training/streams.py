"""Data sets larger than memory: splits whose samples are decoded when a batch needs them.

With ``training.loader.stream`` a folder data set (``image_folder``, ``audio_folder``) is
never loaded whole. Its lazy form (a ``torch.utils.data.Dataset`` of ``({mode: tensor},
label)``) is split by its labels, standardized with statistics gathered in one streaming
pass over the training rows, and corrupted row by row (each row's group and noise are
seeded by the row, so every epoch, every process and a resumed run see the same mix).

A `StreamSplit` stands where an in-memory `TensorSplit` does: the trainer takes
``len(split)``, ``split.y`` and ``split.take(index)``, and through `StreamSplit.batches` a
``DataLoader`` decodes the epoch's batches in worker processes, prefetched, in the order of
the same seeded index batches the in-memory path uses (one loop, two batch sources).
`ModeRows` gives an estimator the clean rows of one mode (stage 1), decoded per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from emma_plugins.core.errors import DataError, SpecError
from emma_plugins.corruptions import CorruptionScheme
from emma_plugins.corruptions.base import CorruptionContext, CorruptionError
from emma_plugins.sources.splits import MIN_STD
from emma_plugins.spec.sections import CorruptionTrainingSpec
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.prepare import SPLITS
from emma_plugins.training.recipe import RecipeData
from emma_plugins.training.settings import corruption_scheme

#: Rows a stream decodes at once outside training (evaluation, calibration, statistics):
#: memory stays bounded by this, not by the data set.
EVAL_ROWS = 256
#: Seeds of the rows' corruption draws: ``seed * ROW_SEED + row`` (rows stay distinct).
ROW_SEED = 1_000_003


class LazySource(Protocol):
    """A data set decoded per sample: what a folder kind's ``lazy`` form returns."""

    targets: NDArray[np.int64]
    class_names: tuple[str, ...]
    split_labels: NDArray[np.str_] | None
    mode_shapes: dict[str, tuple[int, ...]]

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[dict[str, Tensor], int]: ...


@dataclass(frozen=True)
class LoaderSettings:
    """How batches are decoded: ``training.loader`` without its ``stream`` switch."""

    num_workers: int = 0
    pin_memory: bool = False
    persistent_workers: bool = False
    prefetch_factor: int | None = None

    def kwargs(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"num_workers": self.num_workers, "pin_memory": self.pin_memory}
        if self.num_workers > 0:
            extra["persistent_workers"] = self.persistent_workers
            if self.prefetch_factor is not None:
                extra["prefetch_factor"] = self.prefetch_factor
        return extra


@dataclass(frozen=True)
class Scaling:
    """Per-feature training mean and spread of each mode (shape of one sample)."""

    mean: dict[str, Tensor]
    std: dict[str, Tensor]


class _Clean(Dataset[tuple[list[Tensor], int]]):
    """The raw modes of the chosen rows, for the statistics pass."""

    def __init__(self, source: LazySource, rows: NDArray[np.int64], modes: Sequence[str]) -> None:
        self.source, self.rows, self.modes = source, rows, list(modes)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[list[Tensor], int]:
        sample, label = self.source[int(self.rows[i])]
        return [sample[m].float() for m in self.modes], label


def fit_scaling(
    source: LazySource,
    rows: NDArray[np.int64],
    modes: Sequence[str],
    settings: LoaderSettings,
    batch_size: int = EVAL_ROWS,
) -> Scaling:
    """Mean and population standard deviation of every feature over ``rows``, in one
    streaming pass (float64 sums); a constant feature gets a spread of 1."""
    loader = DataLoader(_Clean(source, rows, modes), batch_size=batch_size, **settings.kwargs())
    sums: list[Tensor] = []
    squares: list[Tensor] = []
    count = 0
    for batch, _ in loader:
        if not sums:
            sums = [torch.zeros(x.shape[1:], dtype=torch.float64) for x in batch]
            squares = [torch.zeros(x.shape[1:], dtype=torch.float64) for x in batch]
        for i, x in enumerate(batch):
            values = x.double()
            if not bool(torch.isfinite(values).all()):
                raise DataError(f"mode {modes[i]!r}: a training sample holds NaN or infinity.")
            sums[i] += values.sum(dim=0)
            squares[i] += values.square().sum(dim=0)
        count += len(batch[0])
    if count == 0:
        raise DataError("the training split is empty; nothing to standardize.")
    mean = {m: (s / count) for m, s in zip(modes, sums, strict=True)}
    std = {}
    for m, q in zip(modes, squares, strict=True):
        spread = (q / count - mean[m].square()).clamp_min(0).sqrt()
        std[m] = torch.where(spread >= MIN_STD, spread, torch.ones_like(spread)).float()
    return Scaling({m: v.float() for m, v in mean.items()}, std)


class _EpochBatches:
    """A batch sampler whose batches are set before each epoch (persistent workers keep
    one DataLoader, and so one sampler, across epochs)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def collate(items: Sequence[tuple[list[Tensor], int, Tensor, Tensor]]) -> TensorSplit:
    modes = [torch.stack([item[0][m] for item in items]) for m in range(len(items[0][0]))]
    y = torch.tensor([item[1] for item in items], dtype=torch.int64)
    return TensorSplit(
        modes, y, torch.stack([i[2] for i in items]), torch.stack([i[3] for i in items])
    )


class StreamSplit(Dataset[tuple[list[Tensor], int, Tensor, Tensor]]):
    """Rows of a lazy source, standardized and, with a scheme, corrupted row by row."""

    eval_rows = EVAL_ROWS

    def __init__(
        self,
        source: LazySource,
        rows: NDArray[np.int64],
        modes: Sequence[str],
        scaling: Scaling,
        *,
        scheme: CorruptionScheme | None = None,
        seed: int = 0,
        settings: LoaderSettings | None = None,
        device: torch.device | None = None,
    ) -> None:
        self.source, self.rows = source, np.asarray(rows, dtype=np.int64)
        self.mode_names = list(modes)
        self.scaling, self.scheme, self.seed = scaling, scheme, seed
        self.settings = settings or LoaderSettings()
        self.device = device or torch.device("cpu")
        self._y = torch.from_numpy(source.targets[self.rows].copy())
        self.groups: Tensor | None = None
        if scheme is not None:
            _refuse_pooled(scheme, source.mode_shapes)
            generator = torch.Generator().manual_seed(seed)
            self.groups = scheme.assign(len(self.rows), generator, self._y)
        self._loader: DataLoader[Any] | None = None
        self._sampler = _EpochBatches()

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def y(self) -> Tensor:
        return self._y.to(self.device)

    def to(self, device: torch.device | str) -> StreamSplit:
        moved = StreamSplit.__new__(StreamSplit)
        moved.__dict__.update(self.__dict__)
        moved.device = torch.device(device)
        moved._loader, moved._sampler = None, _EpochBatches()
        return moved

    def __getstate__(self) -> dict[str, Any]:  # worker processes get no DataLoader
        state = self.__dict__.copy()
        state["_loader"] = None
        return state

    # -- one row ---------------------------------------------------------------------------
    def __getitem__(self, i: int) -> tuple[list[Tensor], int, Tensor, Tensor]:
        sample, label = self.source[int(self.rows[i])]
        modes = [
            (sample[m].float() - self.scaling.mean[m]) / self.scaling.std[m]
            for m in self.mode_names
        ]
        missing = torch.zeros(len(self.mode_names), dtype=torch.bool)
        xi = torch.ones(len(self.mode_names))
        if self.scheme is not None and self.groups is not None:
            group = self.scheme.groups[int(self.groups[i])]
            generator = torch.Generator().manual_seed(self.seed * ROW_SEED + int(self.rows[i]))
            for mode, corruption in group.corruptions.items():
                k = self.mode_names.index(mode)
                context = CorruptionContext(mode=mode, labels=torch.tensor([label]))
                modes[k] = corruption(modes[k][None], generator=generator, context=context)[0]
                xi[k] = -1.0
                missing[k] = bool(corruption.missing)
        return modes, label, missing, xi

    # -- batches ---------------------------------------------------------------------------
    def take(self, index: Tensor) -> TensorSplit:
        """The rows at ``index``, decoded here (evaluation batches)."""
        return collate([self[int(i)] for i in index.tolist()]).to(self.device)

    def batches(self, indices: Sequence[Tensor]) -> Iterable[tuple[Tensor, TensorSplit]]:
        """``(index, batch)`` for every index batch, decoded in the loader's workers."""
        self._sampler.batches = [index.tolist() for index in indices]
        if self._loader is None:
            kwargs = self.settings.kwargs()
            self._loader = DataLoader(
                self, batch_sampler=self._sampler, collate_fn=collate, **kwargs
            )
        for index, batch in zip(indices, self._loader, strict=True):
            yield index, batch.to(self.device)

    @property
    def modes(self) -> list[ModeRows]:
        """Each mode's clean rows, decoded per batch (stage 1 fits estimators on them)."""
        return [ModeRows(self, k) for k in range(len(self.mode_names))]


class ModeRows:
    """The clean, standardized rows of one mode of a `StreamSplit`, decoded per batch: the
    `emma_plugins.estimators.base.Rows` an estimator fits on in stage 1."""

    def __init__(self, split: StreamSplit, k: int, device: torch.device | None = None) -> None:
        self.stream, self.k = split, k
        self.device = device or torch.device("cpu")
        self.shape = (len(split), *split.source.mode_shapes[split.mode_names[k]])

    def __len__(self) -> int:
        return len(self.stream)

    def __getitem__(self, index: Tensor) -> Tensor:
        ((_, batch),) = list(self.stream.batches([index.cpu()]))
        return batch.modes[self.k].to(self.device)

    def split(self, size: int) -> Iterator[Tensor]:
        chunks = list(torch.arange(len(self)).split(min(size, EVAL_ROWS)))
        for _, batch in self.stream.batches(chunks):
            yield batch.modes[self.k].to(self.device)

    def to(self, device: torch.device) -> ModeRows:
        return ModeRows(self.stream, self.k, torch.device(device))


def _refuse_pooled(scheme: CorruptionScheme, shapes: dict[str, tuple[int, ...]]) -> None:
    """Corruptions that draw from other rows (``ood`` replacement) need the whole split,
    which a stream never holds: each is tried once on a zero row to find out."""
    for group in scheme.groups:
        for mode, corruption in group.corruptions.items():
            row = torch.zeros(1, *shapes[mode])
            try:
                corruption(row, generator=torch.Generator(), context=CorruptionContext(mode))
            except CorruptionError as exc:
                raise SpecError(
                    f"training.corruption: mode {mode!r} fails as {corruption!r}, which needs "
                    f"more than its own row ({exc}); with training.loader.stream use a "
                    "corruption of the row itself (gaussian, missing, ...)."
                ) from None


def split_rows(source: LazySource, seed: int, train: float) -> dict[str, NDArray[np.int64]]:
    """The rows of each split: the source's own split labels, else stratified fractions."""
    from emma_plugins.sources import predefined_indices, stratified_indices

    if source.split_labels is not None:
        return predefined_indices(source.split_labels, seed, "stream")
    return stratified_indices(source.targets, seed, train)


@dataclass(frozen=True)
class StreamedData:
    """A lazy data set's splits as streams: clean, and with the training mix."""

    source: LazySource
    scaling: Scaling
    clean: dict[str, StreamSplit]
    mixed: dict[str, StreamSplit]

    @property
    def recipe(self) -> RecipeData:
        return RecipeData(
            cast(Any, self.clean["train"]),
            cast(Any, self.clean["val"]),
            cast(Any, self.mixed["train"]),
            cast(Any, self.mixed["val"]),
        )


def prepare_stream(
    source: LazySource,
    mode_names: Sequence[str],
    *,
    seed: int,
    corruption: CorruptionTrainingSpec,
    train: float,
    settings: LoaderSettings,
    device: torch.device,
) -> StreamedData:
    """`emma_plugins.training.prepare.prepare` for a lazy source: split by labels, scale
    from one streaming pass over the training rows, corrupt row by row (split ``k`` with
    seed ``seed * 7919 + k``, as in memory)."""
    names = list(mode_names)
    unknown = [m for m in names if m not in source.mode_shapes]
    if unknown:
        raise SpecError(
            f"modes {unknown}: the streamed data set has modes {', '.join(source.mode_shapes)}; "
            "name the spec's modes after them."
        )
    rows = split_rows(source, seed, train)
    scaling = fit_scaling(source, rows["train"], names, settings)
    scheme = corruption_scheme(corruption, names)
    clean, mixed = {}, {}
    for offset, name in enumerate(SPLITS):
        clean[name] = StreamSplit(
            source, rows[name], names, scaling, settings=settings, device=device
        )
        mixed[name] = StreamSplit(
            source,
            rows[name],
            names,
            scaling,
            scheme=scheme,
            seed=seed * 7919 + offset,
            settings=settings,
            device=device,
        )
    return StreamedData(source, scaling, clean, mixed)


__all__ = [
    "LazySource",
    "LoaderSettings",
    "ModeRows",
    "Scaling",
    "StreamSplit",
    "StreamedData",
    "fit_scaling",
    "prepare_stream",
    "split_rows",
]
