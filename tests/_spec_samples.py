"""Small specs and helpers shared by the builder, model, checkpoint and command tests."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.assembly.model import EmmaModel

ROOT = Path(__file__).resolve().parents[1]
#: The thesis' HTRU2 model without a data section, as YAML and as TOML.
HTRU2_YAML = ROOT / "tests" / "spec" / "files" / "valid" / "htru2.yaml"
HTRU2_TOML = ROOT / "tests" / "spec" / "files" / "valid" / "htru2.toml"

TWO_MODES: dict[str, Any] = {
    "spec_version": 1,
    "modes": [
        {"name": "ip", "width": 4, "estimator": {"kind": "dae", "hidden": 6}},
        {"name": "dm_snr", "width": 4, "estimator": {"kind": "dae", "hidden": 6}},
    ],
    "attention": {"importance": {"kind": "boltzmann", "rho": 0.5}},
    "network": {"kind": "mlp", "hidden": [8, 4]},
    "out_features": 1,
}


def spec_dict(**overrides: Any) -> dict[str, Any]:
    """A deep copy of `TWO_MODES` with top-level sections replaced."""
    data = copy.deepcopy(TWO_MODES)
    data.update(copy.deepcopy(overrides))
    return data


def table(n: int = 16, seed: int = 0) -> torch.Tensor:
    """A ``[n, 8]`` table laid out like HTRU2 (four IP then four DM-SNR columns)."""
    return torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))


def calibrated(model: EmmaModel, x: torch.Tensor) -> EmmaModel:
    """Record the estimators' minima on ``x`` so the attention can run (no training)."""
    for estimator, mode in zip(model.estimators, model.split(x), strict=True):
        estimator.calibrate(mode)
    if model.attention is not None:
        model.attention.calibrate_()
    return model


class SumNet(nn.Module):
    """A user network: a linear map of the summed modes."""

    def __init__(self, width: int = 4, out: int = 1) -> None:
        super().__init__()
        self.linear = nn.Linear(width, out)

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        out: Tensor = self.linear(modes[0] + modes[1])
        return out
