"""Gate slot (step 4, equation 5.5): from importance ``alpha`` to attention ``beta``.

Forward signature of the slot: ``forward(importance [N, M]) -> attention [N, M]`` with
values in ``[0, 1]``; the module sets ``beta = 0`` for missing modes afterwards. A gate
also offers ``capacity()``, ``effective_capacity()`` and ``capacity_penalty()`` (scalars).

Capacity (5.7) is the integral of the gate's curve over ``alpha in [0, 1]``. The thesis
integrates ``tanh`` (5.9), which counts the negative part of the curve that the
``max(0, .)`` cuts off; the *effective* capacity integrates the gate actually applied.
Both use ``log cosh`` written with softplus so that large gains do not overflow.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from emma_plugins.attention.constraints import bounded, project_

_SMALL_SLOPE = 1e-6


def log_cosh(x: Tensor) -> Tensor:
    """``log cosh x = |x| + softplus(-2|x|) - log 2``, finite for any finite ``x``."""
    a = x.abs()
    return a + F.softplus(-2.0 * a) - math.log(2.0)


def tanh_integral(slope: Tensor, offset: Tensor, rectified: bool) -> Tensor:
    """``int_0^1 f(slope * a + offset) da`` for ``f = tanh`` or ``max(0, tanh)``.

    Closed form ``(F(hi) - F(lo)) / |slope|`` with ``F = log cosh`` (or ``log cosh(max(0, .))``
    when ``rectified``); at ``slope -> 0`` the limit ``f(offset)`` is used.
    """
    ends = torch.stack([offset, offset + slope])
    low, high = ends.min(dim=0).values, ends.max(dim=0).values
    if rectified:
        low, high = low.clamp_min(0.0), high.clamp_min(0.0)
    flat = slope.abs() < _SMALL_SLOPE
    safe = torch.where(flat, torch.ones_like(slope), slope.abs())
    integral = (log_cosh(high) - log_cosh(low)) / safe
    at_zero = torch.tanh(offset)
    if rectified:
        at_zero = at_zero.clamp_min(0.0)
    return torch.where(flat, at_zero, integral)


class SharedTanhParams(BaseModel):
    """Parameters of the ``shared_tanh`` gate."""

    model_config = ConfigDict(extra="forbid")

    min_gain: float = Field(1e-3, gt=0, description="Lower bound of the gain g_a (> 0).")


class SharedTanhGate(nn.Module):
    """``beta = max(0, tanh(g_a alpha - b_a))`` with one ``g_a >= min_gain``, ``b_a in [0, 1]``.

    Initial values ``g_a = 1``, ``b_a = 0``. With ``b_a > 0`` a mode passes only if
    ``alpha > b_a / g_a``, i.e. below the energy threshold (5.6).
    """

    stackable = True  # K members train at once: `emma_plugins.training.stacked`

    def __init__(self, n_modes: int, min_gain: float = 1e-3) -> None:
        super().__init__()
        self.n_modes = n_modes
        self.min_gain = min_gain
        self.gain = nn.Parameter(torch.tensor(1.0))
        self.bias = nn.Parameter(torch.tensor(0.0))

    def _values(self) -> tuple[Tensor, Tensor]:
        return bounded(self.gain, self.min_gain), bounded(self.bias, 0.0, 1.0)

    def forward(self, importance: Tensor) -> Tensor:
        gain, bias = self._values()
        return torch.relu(torch.tanh(gain * importance - bias))

    def capacity(self) -> Tensor:
        """(5.9): ``(1/g_a) log(cosh(g_a - b_a) / cosh(b_a))``."""
        gain, bias = self._values()
        return tanh_integral(gain, -bias, rectified=False)

    def effective_capacity(self) -> Tensor:
        gain, bias = self._values()
        return tanh_integral(gain, -bias, rectified=True)

    def capacity_penalty(self) -> Tensor:
        """``g_a - b_a`` (5.10): a stable surrogate that lowers the capacity."""
        gain, bias = self._values()
        return gain - bias

    def constrain_(self) -> None:
        project_(self.gain, self.min_gain)
        project_(self.bias, 0.0, 1.0)

    def describe(self) -> dict[str, Any]:
        return {"g_a": float(self.gain.detach()), "b_a": float(self.bias.detach())}


class PerModeGate(nn.Module):
    """``per_mode``: ``beta = max(0, tanh(W alpha + b))``, ``W [M, M]``, ``b [M]`` (section 5.4).

    Unconstrained; starts at ``W = I``, ``b = 0`` (the same curve as ``shared_tanh``'s
    start). Each mode has its own capacity: the integral along its own importance with
    the others at 0, ``int_0^1 tanh(W_ii a + b_i) da``; `capacity` reports their mean.
    The penalty ``mean_i (W_ii + b_i)`` is the per-mode analogue of ``g_a - b_a``.
    """

    def __init__(self, n_modes: int) -> None:
        super().__init__()
        self.n_modes = n_modes
        self.weight = nn.Parameter(torch.zeros(n_modes, n_modes).fill_diagonal_(1.0))  # identity
        self.bias = nn.Parameter(torch.zeros(n_modes))

    def forward(self, importance: Tensor) -> Tensor:
        return torch.relu(torch.tanh(F.linear(importance, self.weight, self.bias)))

    def mode_capacities(self, rectified: bool = False) -> Tensor:
        """Capacity of each mode, ``[M]``."""
        return tanh_integral(torch.diagonal(self.weight), self.bias, rectified=rectified)

    def capacity(self) -> Tensor:
        return self.mode_capacities().mean()

    def effective_capacity(self) -> Tensor:
        return self.mode_capacities(rectified=True).mean()

    def capacity_penalty(self) -> Tensor:
        return (torch.diagonal(self.weight) + self.bias).mean()

    def describe(self) -> dict[str, Any]:
        return {
            "W": self.weight.tolist(),
            "b": self.bias.tolist(),
            "mode_capacities": self.mode_capacities().tolist(),
        }


class IdentityGate(nn.Module):
    """``identity``: ``beta = alpha``. Capacity ``int_0^1 a da = 1/2``; no parameters, penalty 0."""

    def __init__(self, n_modes: int) -> None:
        super().__init__()
        self.n_modes = n_modes
        self.mean_gate: Tensor
        self.register_buffer("mean_gate", torch.tensor(0.5), persistent=False)

    def forward(self, importance: Tensor) -> Tensor:
        return importance

    def capacity(self) -> Tensor:
        return self.mean_gate

    def effective_capacity(self) -> Tensor:
        return self.mean_gate

    def capacity_penalty(self) -> Tensor:
        return torch.zeros_like(self.mean_gate)

    def describe(self) -> dict[str, Any]:
        return {}
