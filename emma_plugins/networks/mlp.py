"""``mlp``: one MLP over the concatenated, flattened modes (the thesis' HTRU2 network)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pydantic import Field
from torch import Tensor, nn

from emma_plugins.networks.layers import LayerParams, Widths, flat_sizes, flatten_modes, mlp_stack


class MLPParams(LayerParams):
    """Parameters of the ``mlp`` network (defaults: the thesis' 8-8-4-1 network on HTRU2)."""

    hidden: Widths = Field(
        default_factory=lambda: [8, 4], description="Widths of the hidden layers, in order."
    )
    in_features: int | None = Field(
        None,
        ge=1,
        description="Expected input width (sum of the flattened modes it reads); checked "
        "against the modes when given.",
    )
    reads: list[int] | None = Field(
        None,
        min_length=1,
        description="Indices of the modes the network reads, e.g. [0] for the original code's "
        "IP-only network; default: every mode.",
    )

    def check_context(
        self, mode_shapes: Sequence[Sequence[int]], out_features: int, **_: object
    ) -> None:
        outside = [i for i in self.reads or [] if not 0 <= i < len(mode_shapes)]
        if outside:
            raise ValueError(
                f"reads names mode indices {outside}, but there are {len(mode_shapes)} modes "
                f"(indices 0 to {len(mode_shapes) - 1})"
            )
        sizes = _read_sizes(mode_shapes, self.reads)
        if self.in_features is not None and self.in_features != sum(sizes):
            parts = " + ".join(str(size) for size in sizes)
            raise ValueError(
                f"in_features is {self.in_features} but the modes give {sum(sizes)} values "
                f"per sample ({parts}); fix the mode widths or in_features"
            )


class MLP(nn.Module):
    """``Linear(sum of mode sizes, hidden[0]) -> ... -> Linear(hidden[-1], out_features)``."""

    stackable = True  # K members train at once: `emma_plugins.training.stacked`

    def __init__(
        self,
        mode_shapes: Sequence[Sequence[int]],
        out_features: int,
        hidden: Sequence[int] = (8, 4),
        activation: str = "relu",
        dropout: float = 0.0,
        in_features: int | None = None,
        reads: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.reads = tuple(reads) if reads else tuple(range(len(mode_shapes)))
        total = sum(_read_sizes(mode_shapes, self.reads))
        if in_features is not None and in_features != total:
            raise ValueError(f"mlp: in_features={in_features} but the modes give {total}.")
        self.in_features, self.out_features = total, out_features
        self.layers = mlp_stack(total, hidden, out_features, activation, dropout)

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        chosen = [modes[i] for i in self.reads]
        out: Tensor = self.layers(torch.cat(flatten_modes(chosen), dim=1))
        return out


def _read_sizes(mode_shapes: Sequence[Sequence[int]], reads: Sequence[int] | None) -> list[int]:
    sizes = flat_sizes(mode_shapes)
    return [sizes[i] for i in reads] if reads else sizes
