"""The best peer, chosen on validation data only, and EMMA's paired verdicts against it.

The best peer is the candidate with the highest mean task metric on the corrupted
validation mix (each method at its own validation threshold), over all seeds. The test
split never enters the choice, so a method cannot win the selection by luck on test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from emma_lab.experiments.comparison import TrainedModel
from emma_lab.experiments.protocol import SeedData, score
from emma_lab.metrics.stats import PairedComparison, compare

#: Curve summaries compared per mode, with their labels in tables and verdicts.
ROBUSTNESS_MEASURES = (("area", "area"), ("effective_robustness", "effective rob."))


def validation_rows(trained: Mapping[str, TrainedModel], data: SeedData) -> list[dict[str, Any]]:
    """Per method of a seed: the metric on the corrupted validation mix, its threshold and
    the epoch early stopping kept."""
    val = data.mixed["val"]
    return [
        {
            "seed": data.seed,
            "method": name,
            "val_score": score(item.model, val, item.threshold),
            "threshold": item.threshold,
            "best_epoch": item.best_epoch,
        }
        for name, item in trained.items()
    ]


def choose_best_peer(validation: pd.DataFrame, candidates: Sequence[str]) -> str:
    """The candidate with the best mean validation metric (the first one on a tie)."""
    means = validation.groupby("method")["val_score"].mean()
    present = [c for c in candidates if c in means.index]
    if not present:
        raise ValueError(f"no validation scores for any candidate of {list(candidates)}.")
    return max(present, key=lambda name: float(means[name]))


def _wide(frame: pd.DataFrame, key: str, column: str) -> pd.DataFrame:
    """``column`` by (``key``, seed) rows and method columns, seeds sorted: pairs line up."""
    return frame.pivot_table(index=[key, "seed"], columns="method", values=column).sort_index()


def compare_with_peer(
    scores: pd.DataFrame,
    robustness: pd.DataFrame,
    methods: Sequence[str],
    peer: str,
    conditions: Sequence[str],
    mode_names: Sequence[str],
) -> list[PairedComparison]:
    """Each of ``methods`` against ``peer`` on every condition's task metric, and on every
    mode's robustness area and effective robustness (when defined)."""
    by_condition = _wide(scores, "condition", "score")
    measures = [(label, _wide(robustness, "mode", c)) for c, label in ROBUSTNESS_MEASURES]
    out = []
    for method in methods:

        def pair(part: Any, label: str, method: str = method) -> None:
            a, b = part[method].tolist(), part[peer].tolist()
            out.append(compare(a, b, a=method, b=peer, condition=label))

        for condition in conditions:
            pair(by_condition.loc[condition], condition)
        for mode in mode_names:
            for label, wide in measures:
                if not wide.loc[mode][[method, peer]].isna().to_numpy().any():
                    pair(wide.loc[mode], f"{label}:{mode}")
    return out
