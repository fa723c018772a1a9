"""Test doubles for the attention tests: an estimator whose potential is given by the data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from emma_plugins.attention import EnergyAttention, build_attention
from emma_plugins.estimators import EnergyEstimator


class GivenPotential(EnergyEstimator):
    """``potential(x) = x[:, 0]`` (first feature of the flattened mode), minimum 0."""

    def __init__(self) -> None:
        super().__init__()
        self.potential_min.fill_(0.0)
        self.grad_norm_min.fill_(1.0)

    def potential(self, x: Tensor) -> Tensor:
        return x.flatten(1)[:, 0]


def modes_from_potentials(
    potentials: Tensor, widths: Sequence[int] | None = None, seed: int = 0
) -> list[Tensor]:
    """One mode per column of ``potentials [N, M]``: the potential, then random features."""
    generator = torch.Generator().manual_seed(seed)
    n, m = potentials.shape
    widths = [3] * m if widths is None else list(widths)
    return [
        torch.cat(
            [
                potentials[:, i : i + 1],
                torch.randn(n, widths[i] - 1, generator=generator, dtype=potentials.dtype),
            ],
            dim=1,
        )
        for i in range(m)
    ]


def given_attention(
    n_modes: int,
    stages: Mapping[str, Mapping[str, Any]] | None = None,
    widths: Sequence[int] | None = None,
) -> EnergyAttention:
    widths = [3] * n_modes if widths is None else list(widths)
    estimators = [GivenPotential() for _ in range(n_modes)]
    return build_attention(estimators, [(w,) for w in widths], stages)
