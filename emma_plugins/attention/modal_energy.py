"""Modal-energy slot (step 2, equations 5.1-5.2): from corrected potentials to ``E_i``.

Forward signature of the slot: ``forward(potential [N, M], present [N, M] bool) ->
(self_energy [N, M], modal_energy [N, M])``. ``potential`` is finite and ``>= e`` everywhere
(the module replaces a missing mode's potential before this stage); values returned for a
missing mode are ignored by the module.

Constraints (``w_i >= 1``, ``b_i >= 0``, ``w_ij in [-1, 1]``, ``gamma_ij in [0, 1]``) are held
by projection, see `emma_plugins.attention.constraints`.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from emma_plugins.attention.constraints import bounded, project_
from emma_plugins.attention.coupling import pair_coupling


class CoupledParams(BaseModel):
    """Parameters of the ``coupled`` modal energy."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, description="Seed of the initial shared weights w_ij.")


class SelfEnergy(nn.Module):
    """``self_only``: ``E_i = e_i = w_i Psi_i + b_i`` (5.1), no coupling between modes."""

    stackable = True  # K members train at once: `emma_plugins.training.stacked`

    def __init__(self, n_modes: int) -> None:
        super().__init__()
        self.n_modes = n_modes
        self.weight = nn.Parameter(torch.ones(n_modes))
        self.bias = nn.Parameter(torch.zeros(n_modes))

    def self_energy(self, potential: Tensor) -> Tensor:
        """``e_i`` (5.1); positive because ``potential >= e`` and ``w_i >= 1``, ``b_i >= 0``."""
        return bounded(self.weight, 1.0) * potential + bounded(self.bias, 0.0)

    def forward(self, potential: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
        energy = self.self_energy(potential)
        return energy, energy

    def constrain_(self) -> None:
        project_(self.weight, 1.0)
        project_(self.bias, 0.0)

    def describe(self) -> dict[str, Any]:
        return {"w": self.weight.tolist(), "b": self.bias.tolist()}


class CoupledEnergy(SelfEnergy):
    """``coupled``: ``E_i = e_i + sum_{j != i, j present} w_ij e_i^gamma_ij e_j^(1 - gamma_ij)``.

    The shared energies (5.2) are computed for all pairs at once in log space,
    ``exp(log e_j + gamma_ij (log e_i - log e_j))``, which never overflows for energies
    that fit the dtype (the result lies between ``e_i`` and ``e_j``). ``gamma`` and ``w_ij``
    are full asymmetric ``[M, M]`` matrices whose diagonal is ignored.

    Initial values follow the original code: ``w = 1``, ``b = 0``, ``gamma = 0.5`` and
    ``w_ij ~ U(-1/(M-1), 1/(M-1))`` drawn from a generator seeded with ``seed``.
    """

    stackable = True  # K members train at once: `emma_plugins.training.stacked`

    def __init__(self, n_modes: int, seed: int = 0) -> None:
        super().__init__(n_modes)
        if n_modes < 2:
            raise ValueError(f"coupled modal energy needs n_modes >= 2, got {n_modes}.")
        self.seed = seed
        generator = torch.Generator().manual_seed(seed)
        bound = 1.0 / (n_modes - 1)
        # in place, so that the size check on the meta device stays cheap (see glorot_uniform)
        pair = torch.rand(n_modes, n_modes, generator=generator).mul_(2).sub_(1).mul_(bound)
        off_diagonal = torch.ones(n_modes, n_modes, dtype=torch.bool).fill_diagonal_(False)
        self.pair_weight = nn.Parameter(pair.fill_diagonal_(0.0))
        self.gamma = nn.Parameter(torch.full((n_modes, n_modes), 0.5))
        self.off_diagonal: Tensor
        self.register_buffer("off_diagonal", off_diagonal.float(), persistent=False)

    def forward(self, potential: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
        energy = self.self_energy(potential)
        gamma = bounded(self.gamma, 0.0, 1.0)
        weight = bounded(self.pair_weight, -1.0, 1.0) * self.off_diagonal
        return energy, energy + pair_coupling(torch.log(energy), gamma, weight, present)

    def constrain_(self) -> None:
        super().constrain_()
        project_(self.gamma, 0.0, 1.0)
        project_(self.pair_weight, -1.0, 1.0)
        with torch.no_grad():
            self.pair_weight.diagonal().zero_()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "w_ij": self.pair_weight.tolist(),
            "gamma": self.gamma.tolist(),
        }
