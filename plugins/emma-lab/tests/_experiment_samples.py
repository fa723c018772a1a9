"""A small three-mode spec on scikit-learn's breast-cancer data, for training tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from emma_lab.experiments.comparison import Experiment
from emma_lab.experiments.protocol import SeedData

from emma_plugins.sources import MultiModalData, load_breast_cancer
from emma_plugins.spec import EmmaSpec, parse_spec
from emma_plugins.training.batches import TensorSplit


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


def with_scrambled_test(data: SeedData, seed: int) -> SeedData:
    """``data`` with random inputs and flipped labels in its test split (clean and mixed),
    drawn with ``seed``: what model selection does must not change."""
    test = data.clean["test"]
    noise = torch.Generator().manual_seed(seed)
    scrambled = TensorSplit(
        [torch.randn(m.shape, generator=noise) for m in test.modes],
        1 - test.y,
        test.missing,
        test.xi,
    )
    return replace(
        data, clean={**data.clean, "test": scrambled}, mixed={**data.mixed, "test": scrambled}
    )
