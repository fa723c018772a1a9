"""Box constraints on stage parameters, enforced by projection.

Why projection (clamping after each optimizer step) rather than reparametrization: the
thesis' initial values sit on the boundary of their boxes (``w = 1``, ``b = 0``,
``b_a = 0``), which a softplus or sigmoid reparametrization can only approach, never
reach; projection keeps the stored parameters equal to the quantities of equations
5.1-5.5 (readable in checkpoints and reports), and the gradient analysis of section 5.5
is about those raw parameters. Stages also read their parameters through `bounded`
inside ``forward``, so the maths stays valid even if a caller forgets ``constrain_()``:
inside the box the clamp is the identity with gradient 1.
"""

from __future__ import annotations

import torch
from torch import Tensor


def bounded(tensor: Tensor, low: float | None = None, high: float | None = None) -> Tensor:
    """``tensor`` clamped to ``[low, high]`` (identity, gradient 1, inside the box)."""
    return tensor.clamp(low, high)


@torch.no_grad()
def project_(tensor: Tensor, low: float | None = None, high: float | None = None) -> None:
    """Clamp ``tensor`` in place to ``[low, high]``; call after each optimizer step.

    (Written as ``copy_(clamp(...))``, which ``torch.vmap`` batches, unlike ``clamp_``: the
    stacked trainer projects K members' parameters at once.)"""
    tensor.copy_(tensor.clamp(low, high))
