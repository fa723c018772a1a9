"""A tiny bench on scikit-learn's breast-cancer data, and synthetic benchmark frames."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from emma_lab.robustness.suite import PACKAGED_BENCH_DIR, BenchSpec, load_bench

BENCH_DIR = PACKAGED_BENCH_DIR


def breast_cancer_bench(**protocol: Any) -> BenchSpec:
    """The shipped breast-cancer bench, shortened to one epoch per model."""
    bench = load_bench(BENCH_DIR / "breast_cancer.yaml")
    short = bench.model_copy(update={"quick": bench.quick.model_copy(update={"epochs": 1})})
    quick = short.quick_version()
    if protocol:
        quick = quick.model_copy(update={"protocol": quick.protocol.model_copy(update=protocol)})
    return quick


def synthetic_scores(
    methods: list[str], conditions: list[str], seeds: int = 4, boost: dict[str, float] | None = None
) -> pd.DataFrame:
    """Condition rows with a random score per seed, method and condition; ``boost`` adds a
    constant to a method's scores."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(seeds):
        for method in methods:
            for condition in conditions:
                family = condition.split(":")[0] if ":" in condition else "clean"
                family = "multi" if "modes@" in condition else family
                mode, level = None, None
                if family == "noise":
                    mode, level = condition[6:].split("@")[0], float(condition.split("@")[1])
                rows.append(
                    {
                        "seed": seed,
                        "method": method,
                        "condition": condition,
                        "family": family,
                        "mode": mode,
                        "level": level,
                        "score": float(
                            np.clip(
                                0.6 + (boost or {}).get(method, 0.0) + rng.normal(0, 0.02), 0, 1
                            )
                        ),
                        "ece": float(rng.uniform(0, 0.2)),
                        "detection_auroc": float(rng.uniform(0.5, 1)),
                        "error_auroc": float("nan"),
                    }
                )
    return pd.DataFrame(rows)
