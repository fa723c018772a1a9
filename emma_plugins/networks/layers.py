"""Building blocks shared by the built-in networks: MLP stacks and their common parameters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

Activation = Literal["relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", "silu"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
}

Widths = list[Annotated[int, Field(ge=1)]]


class LayerParams(BaseModel):
    """Parameters every built-in network shares."""

    model_config = ConfigDict(extra="forbid")

    activation: Activation = Field("relu", description="Activation after each hidden layer.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout after each hidden activation.")


def flat_sizes(mode_shapes: Sequence[Sequence[int]]) -> list[int]:
    """Values per sample of each mode (networks flatten every mode)."""
    return [math.prod(shape) for shape in mode_shapes]


def mlp_stack(
    in_features: int,
    hidden: Sequence[int],
    out_features: int | None,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Sequential:
    """``Linear -> activation [-> Dropout]`` per hidden width, then ``Linear(out_features)``.

    With ``out_features=None`` the stack ends after the last hidden activation (an encoder).
    """
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    if out_features is not None:
        layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def flatten_modes(modes: Sequence[Tensor]) -> list[Tensor]:
    """Each mode as ``[N, values]``."""
    return [x.flatten(1) for x in modes]
