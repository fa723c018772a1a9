"""Checks shared by the tests of the structured-energy plugins (emma-cnn, emma-lstm)."""

from __future__ import annotations

import importlib.metadata
import re
from typing import Any

import pytest
import torch
from torch import Tensor

from emma_plugins import EmmaModel, build, get_registry
from emma_plugins.cli import main
from emma_plugins.estimators import EnergyEstimator, StructuredEnergy


def build_kind(kind: str, shape: tuple[int, ...], **params: Any) -> StructuredEnergy:
    """The registered kind, built as a spec would build it."""
    estimator = get_registry("estimator").get(kind).build(params, shape=shape)
    assert isinstance(estimator, StructuredEnergy)
    return estimator


def assert_distribution(dist_name: str, kind: str, module: str) -> None:
    """Installed metadata: the entry point and the dependencies, as pip sees them."""
    dist = importlib.metadata.distribution(dist_name)
    [entry_point] = dist.entry_points.select(group="emma_plugins")
    assert (entry_point.name, entry_point.value) == (kind, module)
    requires = " ".join(dist.requires or [])
    assert "emma-plugins" in requires
    assert re.search(r"torch\s*(<2\.14,\s*>=2\.2|>=2\.2,\s*<2\.14)", requires), requires


def assert_registered(
    capsys: pytest.CaptureFixture[str], kind: str, provider: str, factory: Any, params: Any
) -> None:
    """The registry holds the kind with its factory, params model and distribution, and
    ``emma plugins`` names the kind with its distribution."""
    entry = get_registry("estimator").get(kind)
    assert (entry.provider, entry.factory, entry.params) == (provider, factory, params)
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^  {kind} +{provider}$", out, re.MULTILINE), out


def fraction_below_noisy(estimator: EnergyEstimator, clean: Tensor, std: float) -> float:
    """Share of samples whose clean energy is below that of a noisy copy (noise std ``std``)."""
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(99))
    with torch.no_grad():
        lower = estimator.potential(clean) < estimator.potential(clean + std * noise)
    return float(lower.float().mean())


def spec_model(kind: str, shape: list[int], params: dict[str, Any]) -> EmmaModel:
    """An EMMA model with one mode of ``kind`` and a flat tied-DAE mode beside it."""
    return build(
        {
            "spec_version": 1,
            "modes": [
                {"name": "signal", "shape": shape, "estimator": {"kind": kind, **params}},
                {"name": "table", "width": 4, "estimator": {"kind": "dae", "epochs": 1}},
            ],
            "attention": {"importance": {"kind": "boltzmann", "rho": 0.5}},
            "network": {"kind": "mlp", "hidden": [8]},
            "out_features": 1,
        }
    )


def assert_spec_builds_fits_and_runs(kind: str, signal: Tensor, params: dict[str, Any]) -> None:
    model = spec_model(kind, list(signal.shape[1:]), params)
    modes = [signal, torch.randn(len(signal), 4, generator=torch.Generator().manual_seed(0))]
    model.fit_estimators(modes, progress=False)
    estimator = model.estimators[0]
    assert type(estimator) is get_registry("estimator").get(kind).factory
    assert estimator.is_fitted
    with torch.no_grad():
        output = model(modes)
    assert output.output.shape == (len(signal), 1)
    assert torch.isfinite(output.output).all()
