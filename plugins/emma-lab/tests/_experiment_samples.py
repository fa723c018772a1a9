"""A small three-mode spec on scikit-learn's breast-cancer data, for training tests."""

from __future__ import annotations

from typing import Any

from emma_lab.experiments.comparison import Experiment

from emma_plugins.sources import MultiModalData, load_breast_cancer
from emma_plugins.spec import EmmaSpec, parse_spec


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


def tiny_spec(
    *, training: dict[str, Any] | None = None, evaluation: dict[str, Any] | None = None
) -> EmmaSpec:
    """`breast_cancer_spec` with two epochs per stage, one seed and one noise draw."""
    data = breast_cancer_spec()
    data["training"] = {"base_epochs": 2, "epochs": 2, "batch_size": 32, **(training or {})}
    data["evaluation"] = {"seeds": [0], "noise_draws": 1, **(evaluation or {})}
    return parse_spec(data)


def tiny_experiment(spec: EmmaSpec | None = None, **options: Any) -> Experiment:
    """The experiment of ``spec`` (default `tiny_spec`), without progress bars."""
    return Experiment.from_spec(spec or tiny_spec(), progress=False, **options)
