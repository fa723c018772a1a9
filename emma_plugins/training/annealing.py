"""Annealing of the coldness rho (section 8.1): start hot, cool while validation improves."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from emma_plugins.spec.sections import ANNEAL_FACTOR, ANNEAL_START


@dataclass
class ColdnessAnnealing:
    """Multiply rho by ``factor`` after each epoch whose validation loss improved.

    Cooling stops for good the first time validation loss does not improve, instead of
    tuning a final temperature (section 8.1). ``start`` should be hot enough that the
    importance is uniform (alpha_i ~ 1/M) at the start of stage 2.
    """

    start: float = ANNEAL_START
    factor: float = ANNEAL_FACTOR
    maximum: float = 10.0
    cooling: bool = True

    def __post_init__(self) -> None:
        self.rho = self.start

    def step(self, improved: bool) -> float:
        if not improved:
            self.cooling = False
        if self.cooling:
            self.rho = min(self.rho * self.factor, self.maximum)
        return self.rho


def first_linear_layers(network: nn.Module, apply_to: str = "inputs") -> list[nn.Linear]:
    """The layers that read what EMMA weighs.

    A network may say itself with ``input_layers(apply_to)``; otherwise, for weights on the
    inputs, it is the first Linear layer found.
    """
    custom = getattr(network, "input_layers", None)
    if callable(custom):
        return list(custom(apply_to))
    if apply_to != "inputs":
        raise ValueError(
            f"{type(network).__name__} does not say which layers read its encodings: give it an "
            "input_layers(apply_to) method to anneal with apply_to: encodings."
        )
    for module in network.modules():
        if isinstance(module, nn.Linear):
            return [module]
    return []


@torch.no_grad()
def compensate_initial_attention(
    network: nn.Module, n_modes: int, apply_to: str = "inputs"
) -> None:
    """Divide input-layer weights by tanh(1/M), so a fresh EMMA with uniform importance,
    ``g_a = 1`` and ``b_a = 0`` (beta = tanh(1/M) for every mode) initially changes nothing."""
    scale = math.tanh(1.0 / n_modes)
    for layer in first_linear_layers(network, apply_to):
        layer.weight.div_(scale)
