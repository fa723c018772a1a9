"""One small module per mode, run over the modes and stacked along a mode axis."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from emma_plugins.networks.layers import flat_sizes, mlp_stack


def per_mode_stacks(
    mode_shapes: Sequence[Sequence[int]],
    hidden: Sequence[int],
    out_features: int | None,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.ModuleList:
    """An MLP stack per mode, taking that mode's flattened values."""
    return nn.ModuleList(
        mlp_stack(size, hidden, out_features, activation, dropout)
        for size in flat_sizes(mode_shapes)
    )


def per_mode_encoders(
    network: str,
    mode_shapes: Sequence[Sequence[int]],
    widths: Sequence[int],
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.ModuleList:
    """An encoder per mode whose last width is the encoding width every mode shares."""
    if not widths:
        raise ValueError(f"{network}: encoder needs at least one width.")
    return per_mode_stacks(mode_shapes, widths, None, activation, dropout)


def run_per_mode(modules: nn.ModuleList, inputs: Sequence[Tensor]) -> Tensor:
    """``[N, M, width]``: module ``m`` applied to mode ``m`` (flattened); widths must agree."""
    if len(inputs) != len(modules):
        raise ValueError(f"expected {len(modules)} modes, got {len(inputs)}.")
    return torch.stack(
        [module(x.flatten(1)) for module, x in zip(modules, inputs, strict=True)], dim=1
    )
