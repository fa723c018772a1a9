"""Correction slot (equation 5.3): make every potential at least Euler's number.

``Psi <- max(e, Psi - Psi_min + e)`` keeps ``log e_i >= 1`` downstream, so the shared
energies (computed in log space) and their gradients stay finite, and self-energies are
positive. ``Psi_min`` is each estimator's training minimum of the chosen score; the
module hands the stacked minima ``[M]`` to `calibrate`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn


class MinShift(nn.Module):
    """``max(e, Psi - Psi_min + e)``, vectorised over modes.

    Forward signature of the correction slot: ``forward(scores [N, M]) -> [N, M]``.
    """

    stackable = True  # K members train at once: `emma_plugins.training.stacked`

    def __init__(self, n_modes: int) -> None:
        super().__init__()
        self.n_modes = n_modes
        self.minimum: Tensor
        self.register_buffer("minimum", torch.full((n_modes,), float("nan")))

    @torch.no_grad()
    def calibrate(self, minima: Tensor) -> None:
        """Store the per-mode training minima ``[M]`` of the energy input."""
        if minima.shape != (self.n_modes,):
            raise ValueError(
                f"min_shift: expected {self.n_modes} minima (one per mode), got shape "
                f"{tuple(minima.shape)}."
            )
        self.minimum.copy_(minima)

    def forward(self, scores: Tensor) -> Tensor:
        return torch.clamp_min(scores - self.minimum + math.e, math.e)

    def describe(self) -> dict[str, Any]:
        return {"minimum": self.minimum.tolist()}
