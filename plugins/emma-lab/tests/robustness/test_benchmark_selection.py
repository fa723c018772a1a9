"""The best peer comes from validation scores only; verdicts pair seeds."""

from __future__ import annotations

import pandas as pd
import pytest
from _benchmark_samples import synthetic_scores
from emma_lab.robustness.metrics import robustness_frame
from emma_lab.robustness.selection import choose_best_peer, compare_with_peer


def _validation(means: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"seed": seed, "method": method, "val_score": value}
            for method, values in means.items()
            for seed, value in enumerate(values)
        ]
    )


def test_best_peer_has_the_best_mean_validation_score_among_the_candidates() -> None:
    validation = _validation(
        {"emma": [0.99, 0.99], "qmf": [0.9, 0.7], "tmc": [0.8, 0.85], "late_fusion": [0.5, 0.5]}
    )
    assert choose_best_peer(validation, ["qmf", "tmc", "late_fusion"]) == "tmc"
    assert choose_best_peer(validation, ["late_fusion", "qmf"]) == "qmf"
    with pytest.raises(ValueError, match="no validation scores"):
        choose_best_peer(validation, ["mmdynamics"])


def test_comparisons_cover_every_condition_and_mode_with_the_right_verdicts() -> None:
    conditions = ["clean", "noise:a@1", "noise:a@3", "ood:a"]
    scores = synthetic_scores(
        ["emma", "peer", "late_fusion"], conditions, seeds=5, boost={"emma": 0.2}
    )
    robustness = robustness_frame(scores, ["a"], [0.0, 1.0, 3.0], "late_fusion")
    comparisons = compare_with_peer(scores, robustness, ["emma"], "peer", conditions, ["a"])
    labels = [c.condition for c in comparisons]
    assert labels == [*conditions, "area:a", "effective rob.:a"]
    assert all(c.n == 5 and c.a == "emma" and c.b == "peer" for c in comparisons)
    assert all(c.verdict == "win" for c in comparisons[:5])  # +0.2 on every score
    swapped = compare_with_peer(scores, robustness, ["peer"], "emma", conditions, ["a"])
    assert all(c.verdict == "lose" for c in swapped[:5])
