"""Tensors of one split as the trainer sees them: modes, targets, missing mask and xi."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TensorSplit:
    """One split (or batch): per-mode tensors, targets, the missing mask and xi.

    ``xi`` is the energy regularizer's indicator (5.10): +1 for a clean mode, -1 for a
    corrupted one, per sample and mode.
    """

    modes: list[Tensor]
    y: Tensor
    missing: Tensor
    xi: Tensor

    @classmethod
    def clean(cls, modes: Sequence[Tensor], y: Tensor) -> TensorSplit:
        n, m = len(y), len(modes)
        return cls(list(modes), y, torch.zeros(n, m, dtype=torch.bool), torch.ones(n, m))

    def __len__(self) -> int:
        return len(self.y)

    def take(self, index: Tensor) -> TensorSplit:
        return TensorSplit(
            [mode[index] for mode in self.modes], self.y[index], self.missing[index], self.xi[index]
        )

    @property
    def corrupted(self) -> Tensor:
        """Per sample and mode: corrupted (noisy, out-of-distribution or missing)."""
        return self.xi < 0

    def to(self, device: torch.device | str) -> TensorSplit:
        return TensorSplit(
            [mode.to(device) for mode in self.modes],
            self.y.to(device),
            self.missing.to(device),
            self.xi.to(device),
        )
