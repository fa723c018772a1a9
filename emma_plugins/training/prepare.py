"""One seed's data as the trainer sees it: split, standardized, and corrupted copies.

Every model trained on a seed sees the same splits and the same corrupted mix, so models
that differ in anything else are compared on equal terms (the lab's experiments), and a
resumed fit sees exactly the data it started on (`emma fit`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from emma_plugins.core.errors import DataError
from emma_plugins.sources import MultiModalData, Splits, split
from emma_plugins.sources.splits import TRAIN_FRACTION
from emma_plugins.spec import EmmaSpec
from emma_plugins.spec.sections import CorruptionTrainingSpec
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.recipe import RecipeData
from emma_plugins.training.settings import corruption_scheme

#: The split names, in the order their corruption seeds are derived.
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class PreparedData:
    """The splits as tensors: clean, and corrupted with the training mix (``groups`` says
    which scheme group each row of a corrupted split fell in)."""

    splits: Splits
    clean: dict[str, TensorSplit]
    mixed: dict[str, TensorSplit]
    groups: dict[str, Tensor]

    def to(self, device: torch.device) -> PreparedData:
        """The tensors on ``device`` (the splits' tables stay where they are)."""
        return PreparedData(
            self.splits,
            {name: part.to(device) for name, part in self.clean.items()},
            {name: part.to(device) for name, part in self.mixed.items()},
            {name: group.to(device) for name, group in self.groups.items()},
        )

    @property
    def recipe(self) -> RecipeData:
        """The tensors `emma_plugins.training.recipe.train_recipe` trains on."""
        return RecipeData(
            self.clean["train"], self.clean["val"], self.mixed["train"], self.mixed["val"]
        )


def prepare(
    data: MultiModalData,
    mode_names: Sequence[str],
    *,
    seed: int,
    corruption: CorruptionTrainingSpec,
    train: float = TRAIN_FRACTION,
    on_missing: Mapping[str, str] | None = None,
) -> PreparedData:
    """Split (stratified, or the data's own split), standardize on train, and corrupt each
    split with the training mix of ``corruption``; split ``k`` is corrupted with seed
    ``seed * 7919 + k``.

    ``on_missing`` (mode -> policy, the spec's modes' ``on_missing``) lets the data hold
    missing values (NaN): a mode with policy ``missing`` is masked in the rows where it has
    one (and counts as corrupted for the energy regularizer), ``impute_mean`` fills them
    with the training mean, and ``error`` refuses them naming the row and column. Without
    it every value must be finite.
    """
    policies = dict(on_missing or {})
    splits = split(data, seed, train=train, allow_missing=bool(policies))
    names = list(mode_names)
    scheme = corruption_scheme(corruption, names)
    clean, mixed, groups = {}, {}, {}
    for offset, (name, part) in enumerate(zip(SPLITS, splits, strict=True)):
        tensors, y = part.to_tensors(names)
        tensors, holes = _fill_missing(tensors, names, policies, part, splits.indices[name])
        clean[name] = TensorSplit(tensors, y, holes, torch.where(holes, -1.0, 1.0))
        batch = scheme.apply(tensors, names, y, seed=seed * 7919 + offset)
        missing = batch.missing | holes
        mixed[name] = TensorSplit(batch.modes, y, missing, torch.where(holes, -1.0, batch.xi))
        groups[name] = batch.group
    return PreparedData(splits, clean, mixed, groups)


def prepare_spec(data: MultiModalData, spec: EmmaSpec) -> PreparedData:
    """`prepare` with the spec's settings: ``training.seed`` and ``training.corruption``,
    ``data.train_fraction`` and each mode's ``on_missing`` (what `emma fit` trains on)."""
    training = spec.resolved_training
    return prepare(
        data,
        spec.mode_names,
        seed=training.seed,
        corruption=training.corruption,
        train=spec.data.train_fraction if spec.data is not None else TRAIN_FRACTION,
        on_missing={mode.name: mode.on_missing for mode in spec.modes},
    )


def _fill_missing(
    tensors: list[Tensor],
    names: list[str],
    policies: Mapping[str, str],
    part: MultiModalData,
    positions: NDArray[np.int64],
) -> tuple[list[Tensor], Tensor]:
    """The modes with missing values zeroed (the training mean, once standardized) and the
    ``[N, M]`` mask of the modes masked as missing."""
    filled, holes = [], []
    for name, x in zip(names, tensors, strict=True):
        absent = x.isnan().flatten(1).any(dim=1)
        policy = policies.get(name, "error")
        if bool(absent.any()) and policy == "error":
            row = int(torch.nonzero(absent)[0])
            columns = part.modes[name]
            column = columns[int(torch.nonzero(x[row].flatten().isnan())[0])]
            raise DataError(
                f"data set {part.name!r}: row {positions[row]}, column {column!r} of mode "
                f"{name!r} is missing; set the mode's on_missing to missing (mask the mode "
                "in such rows) or impute_mean, or fill the value."
            )
        filled.append(torch.nan_to_num(x, nan=0.0))
        holes.append(absent if policy == "missing" else torch.zeros_like(absent))
    n = len(tensors[0]) if tensors else 0
    mask = torch.stack(holes, dim=1) if holes else torch.zeros(n, 0, dtype=torch.bool)
    return filled, mask


__all__ = ["SPLITS", "PreparedData", "prepare", "prepare_spec"]
