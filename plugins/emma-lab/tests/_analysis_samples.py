"""Trained seeds of experiment 1 on small breast-cancer data, shared by the analysis tests.

Training is the slow part, so each kind of sample is built once per test session.
"""

from __future__ import annotations

from functools import cache

from _experiment_samples import breast_cancer_spec, small_data, tiny_config

from emma_lab.experiments.protocol import SeedData, prepare_seed
from emma_lab.experiments.runner import model_factory
from emma_lab.experiments.comparison import SeedOutcome, run_seed
from emma_plugins.spec import parse_spec
from emma_plugins.training.stages import fit_estimators

MODES = ["mean", "error", "worst"]
SEEDS = (0, 1)


@cache
def trained_seeds() -> tuple[tuple[SeedData, SeedOutcome], ...]:
    """Base, without and with models for two seeds (2 epochs each)."""
    factory = model_factory(parse_spec(breast_cancer_spec()))
    runs = []
    for seed in SEEDS:
        data = prepare_seed(small_data(), MODES, seed=seed, sigma=0.5)
        runs.append((data, run_seed(factory, data, tiny_config(seeds=[seed]), [])))
    return tuple(runs)


@cache
def fitted_estimators(seed: int = 0, epochs: int = 20) -> tuple[SeedData, SeedOutcome]:
    """Only model-with's estimators fitted (no network training): enough for the potential
    analysis. More estimator epochs than the training tests so that trends are stable."""
    spec = breast_cancer_spec()
    for mode in spec["modes"]:
        mode["estimator"]["epochs"] = epochs
    model = model_factory(parse_spec(spec))({}, seed)
    data = prepare_seed(small_data(), MODES, seed=seed, sigma=0.5)
    fit_estimators(model, data.clean["train"])
    return data, SeedOutcome([], [], {"with": model}, {"with": 0.5})
