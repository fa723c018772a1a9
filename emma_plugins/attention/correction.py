"""Correction slot (equation 5.3): make every potential at least Euler's number.

``min_shift`` is the thesis' ``Psi <- max(e, Psi - Psi_min + e)``: it keeps ``log e_i >= 1``
downstream, so the shared energies (computed in log space) and their gradients stay
finite, and self-energies are positive. ``Psi_min`` is each estimator's training minimum of
the chosen score; the module hands the stacked minima ``[M]`` to `calibrate`.

``standardized`` departs from (5.3) on purpose: ``Psi <- e + max(0, (Psi - q_tau) / s)``
with each score's training standard deviation ``s`` and training ``tau``-quantile
``q_tau`` (``tau`` = ``dead_zone``). The module hands it the whole training distribution
(`emma_plugins.core.contracts.ScoreDistribution`) through `calibrate_distribution`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from emma_plugins.core.contracts import ScoreDistribution


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


class StandardizedParams(BaseModel):
    """Parameters of the ``standardized`` correction."""

    model_config = ConfigDict(extra="forbid")

    dead_zone: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description=(
            "Training quantile tau of the score below which the potential is exactly e "
            "(0: the training minimum, a min_shift in units of the training spread; 0.99: "
            "every in-distribution sample gets e)."
        ),
    )


class StandardizedShift(nn.Module):
    """``e + max(0, (Psi - q_tau) / s)``, vectorised over modes.

    ``s`` is each score's training standard deviation and ``q_tau`` its training quantile
    at ``tau = dead_zone``, stored as the buffers ``scale [M]`` and ``center [M]`` by
    `calibrate_distribution`. The potential is the score's excess over ``q_tau`` in units
    of its training spread, so potentials of different estimators are comparable and a
    coldness of order 1 makes the importance react to abnormal scores; scores below
    ``q_tau`` all give exactly ``e``. A training spread at or below the score's float
    resolution (a constant score) gives ``s = 1``: there is no spread to measure in.

    The forward reads only the buffers (``dead_zone`` matters at calibration), so members
    with different ``dead_zone`` train stacked exactly.
    """

    stackable = True  # K members train at once: `emma_plugins.training.stacked`

    def __init__(self, n_modes: int, dead_zone: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= dead_zone < 1.0:
            raise ValueError(f"standardized: dead_zone must lie in [0, 1), got {dead_zone}.")
        self.n_modes = n_modes
        self.dead_zone = float(dead_zone)
        self.center: Tensor
        self.scale: Tensor
        self.register_buffer("center", torch.full((n_modes,), float("nan")))
        self.register_buffer("scale", torch.full((n_modes,), float("nan")))

    @torch.no_grad()
    def calibrate_distribution(self, distribution: ScoreDistribution) -> None:
        """Store each mode's training ``dead_zone``-quantile and standard deviation."""
        if distribution.quantiles.shape[:1] != (self.n_modes,) or distribution.std.shape != (
            self.n_modes,
        ):
            raise ValueError(
                f"standardized: expected the distribution of {self.n_modes} modes, got "
                f"quantiles {tuple(distribution.quantiles.shape)} and std "
                f"{tuple(distribution.std.shape)}."
            )
        center = distribution.quantile(self.dead_zone).to(self.center)
        std = distribution.std.to(self.scale)
        resolution = torch.finfo(self.scale.dtype).eps * center.abs().clamp_min(1.0)
        self.center.copy_(center)
        self.scale.copy_(torch.where(std > resolution, std, torch.ones_like(std)))

    def forward(self, scores: Tensor) -> Tensor:
        return torch.clamp_min((scores - self.center) / self.scale, 0.0) + math.e

    def describe(self) -> dict[str, Any]:
        return {
            "dead_zone": self.dead_zone,
            "center": self.center.tolist(),
            "scale": self.scale.tolist(),
        }
