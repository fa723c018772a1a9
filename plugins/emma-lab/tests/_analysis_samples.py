"""Trained seeds of experiment 1 on small breast-cancer data, shared by the analysis tests.

Training is the slow part, so each kind of sample is built once per test session.
"""

from __future__ import annotations

from functools import cache

from _experiment_samples import breast_cancer_spec, small_data, tiny_experiment
from emma_lab.experiments.comparison import SeedOutcome, run_seed, seeded_model
from emma_lab.experiments.protocol import SeedData, prepare_seed
from emma_lab.spec import emma_model_spec

from emma_plugins.spec import parse_spec
from emma_plugins.training.stages import fit_estimators

MODES = ["mean", "error", "worst"]
SEEDS = (0, 1)


@cache
def trained_seeds() -> tuple[tuple[SeedData, SeedOutcome], ...]:
    """Base, without and with models for two seeds (2 epochs each)."""
    experiment = tiny_experiment()
    runs = []
    for seed in SEEDS:
        data = prepare_seed(small_data(), MODES, seed=seed, sigma=0.5)
        runs.append((data, run_seed(experiment, data)))
    return tuple(runs)


@cache
def fitted_estimators(seed: int = 0, epochs: int = 20) -> tuple[SeedData, SeedOutcome]:
    """Only the emma model's estimators fitted (no network training): enough for the potential
    analysis. More estimator epochs than the training tests so that trends are stable."""
    spec = breast_cancer_spec()
    for mode in spec["modes"]:
        mode["estimator"]["epochs"] = epochs
    model = seeded_model(emma_model_spec(parse_spec(spec)), seed)
    data = prepare_seed(small_data(), MODES, seed=seed, sigma=0.5)
    fit_estimators(model, data.clean["train"])
    return data, SeedOutcome([], [], {"emma": model}, {"emma": 0.5})
