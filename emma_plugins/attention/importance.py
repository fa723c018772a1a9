"""Importance slot (step 3, equation 5.4): the Boltzmann distribution over present modes.

Forward signature of the slot: ``forward(modal_energy [N, M], present [N, M] bool) ->
log_importance [N, M]``: ``log alpha``, normalised over the present modes of each sample.
The module masks missing modes and samples with no present mode afterwards. An
importance stage also exposes ``coldness`` and ``set_coldness(rho)`` so a trainer can
anneal ``rho``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from emma_plugins.attention.constraints import bounded, project_

#: ``rho`` is kept in ``[RHO_MIN, RHO_MAX]`` so that ``rho * E`` cannot overflow.
RHO_MIN, RHO_MAX = 1e-6, 1e6
_LOG_BOUNDS = (math.log(RHO_MIN), math.log(RHO_MAX))


class BoltzmannParams(BaseModel):
    """Parameters of the ``boltzmann`` importance."""

    model_config = ConfigDict(extra="forbid")

    rho: float = Field(
        1.0, ge=RHO_MIN, le=RHO_MAX, description="Coldness (inverse temperature) of (5.4)."
    )
    learnable: bool = Field(False, description="Learn log(rho) with the other parameters.")


class Boltzmann(nn.Module):
    """``alpha = softmax(-rho E)`` over present modes, computed as a masked ``log_softmax``.

    ``rho`` is stored as ``log rho`` (a parameter when ``learnable``, a buffer otherwise),
    which keeps it positive; ``log rho`` is also projected into ``[log 1e-6, log 1e6]`` so
    that a large learning rate cannot push ``rho`` to infinity.
    """

    stackable = True  # K members train at once: `emma_plugins.training.stacked`

    def __init__(self, n_modes: int, rho: float = 1.0, learnable: bool = False) -> None:
        super().__init__()
        _check_rho(rho)
        self.n_modes = n_modes
        log_rho = torch.tensor(math.log(rho))
        if learnable:
            self.log_rho = nn.Parameter(log_rho)
        else:
            self.register_buffer("log_rho", log_rho)

    @property
    def coldness(self) -> float:
        """The current ``rho``."""
        return float(self.log_rho.detach().exp())

    @torch.no_grad()
    def set_coldness(self, rho: float) -> None:
        """Set ``rho`` (e.g. once per epoch when annealing)."""
        _check_rho(rho)
        self.log_rho.fill_(math.log(rho))

    def forward(self, modal_energy: Tensor, present: Tensor) -> Tensor:
        logits = -bounded(self.log_rho, *_LOG_BOUNDS).exp() * modal_energy
        # Samples with no present mode get uniform logits here (then alpha = 0 in the module),
        # so log_softmax never sees a row of -inf and never makes NaN, forward or backward.
        keep = present | ~present.any(dim=1, keepdim=True)
        logits = logits.masked_fill(~keep, float("-inf"))
        return torch.log_softmax(logits, dim=1)

    def constrain_(self) -> None:
        project_(self.log_rho, *_LOG_BOUNDS)

    def describe(self) -> dict[str, Any]:
        return {"rho": self.coldness, "learnable": isinstance(self.log_rho, nn.Parameter)}


def _check_rho(rho: float) -> None:
    if not RHO_MIN <= rho <= RHO_MAX:
        raise ValueError(f"rho (coldness) must lie in [{RHO_MIN:g}, {RHO_MAX:g}], got {rho}.")
