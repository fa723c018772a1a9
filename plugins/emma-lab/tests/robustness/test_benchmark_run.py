"""One seed of the benchmark: every method trains, and selection never sees the test split."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import torch
from _benchmark_samples import breast_cancer_bench
from emma_lab.experiments.protocol import prepare_seed
from emma_lab.robustness.methods import MethodTrainer
from emma_lab.robustness.run import (
    load_bench_data,
    run_seed,
    summarise,
)
from emma_lab.robustness.selection import choose_best_peer


def test_selection_never_sees_the_test_split() -> None:
    bench = breast_cancer_bench(ood=None, multi_mode=None, noise_levels=[0.0, 2.0])
    data = load_bench_data(bench, max_samples=300)
    spec = bench.emma_spec()
    corruption = spec.resolved_training.corruption
    seed_data = prepare_seed(data, spec.mode_names, 0, corruption=corruption)
    test = seed_data.clean["test"]
    torch.manual_seed(1)
    noise_only = replace(test, modes=[torch.randn_like(m) for m in test.modes], y=1 - test.y)
    swapped = replace(
        seed_data,
        clean={**seed_data.clean, "test": noise_only},
        mixed={**seed_data.mixed, "test": noise_only},
    )
    honest = run_seed(MethodTrainer(bench), seed_data)
    leaked = run_seed(MethodTrainer(bench), swapped)
    val_a, scores_a = pd.DataFrame(honest.validation), pd.DataFrame(honest.scores)
    val_b, scores_b = pd.DataFrame(leaked.validation), pd.DataFrame(leaked.scores)
    # validation scores, thresholds and best epochs come from validation data only...
    pd.testing.assert_frame_equal(val_a, val_b)
    assert choose_best_peer(val_a, bench.candidates) == choose_best_peer(val_b, bench.candidates)
    # ...while the test scores change
    assert not scores_a["score"].equals(scores_b["score"])
    # every method is scored on every condition of every seed
    assert set(scores_a["method"]) == set(bench.methods)
    assert len(scores_a) == len(bench.methods) * (1 + 3 + 3)
    result = summarise(bench, data, [0], val_a, scores_a)
    assert result.best_peer in bench.candidates
    assert result.conditions == [
        "clean",
        "noise:mean@2",
        "noise:error@2",
        "noise:worst@2",
        "missing:mean",
        "missing:error",
        "missing:worst",
    ]
