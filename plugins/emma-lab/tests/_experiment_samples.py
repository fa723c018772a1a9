"""A small three-mode spec on scikit-learn's breast-cancer data, for training tests."""

from __future__ import annotations

from typing import Any

from emma_plugins.sources import MultiModalData, load_breast_cancer
from emma_lab.experiments.comparison import TableConfig


def breast_cancer_spec(**attention: Any) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "modes": [
            {"name": name, "width": 10, "estimator": {"kind": "dae", "hidden": 6, "epochs": 3}}
            for name in ("mean", "error", "worst")
        ],
        "attention": {"importance": {"kind": "boltzmann", "rho": 0.01}, **attention},
        "network": {"kind": "mlp", "hidden": [8, 4]},
        "out_features": 1,
    }


def small_data(n: int = 240) -> MultiModalData:
    data = load_breast_cancer()
    return data.subset(list(range(n)))


def tiny_config(**overrides: Any) -> TableConfig:
    base: dict[str, Any] = dict(
        seeds=[0], base_epochs=2, epochs=2, noise_draws=1, batch_size=32, progress=False
    )
    base.update(overrides)
    return TableConfig(**base)
