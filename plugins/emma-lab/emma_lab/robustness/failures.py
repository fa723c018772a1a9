"""The unanticipated suite's summaries: areas over severities, mean ranks, the outcome.

Per seed, method, failure kind and number of failing modes, the **area** is the mean task
metric over the kind's severities (and, for one mode at a time, over the modes): the
area under the metric-versus-severity curve divided by its range. Each EMMA variant is
compared with the best peer on every area, paired over seeds.

The **mean rank** of a method is its rank among all methods (1 = best, ties averaged) on
each failure condition of each seed, averaged. Its interval is a bootstrap over seeds (the
conditions are fixed, the seeds are the random part), and so is the interval of the
difference of mean ranks between an EMMA variant and the best peer. A variant is
**recommended** when that difference excludes 0 on the better (lower) side while it loses
at most `CLEAN_TOLERANCE` on clean data against the same peer, over at least
`MIN_SEEDS_FOR_VERDICT` seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emma_lab.metrics.stats import MIN_SEEDS_FOR_VERDICT, PairedComparison, compare

#: The most an EMMA variant may lose on clean data and still be recommended.
CLEAN_TOLERANCE = 0.005
#: Seed of the bootstrap: the same results give the same intervals.
BOOTSTRAP_SEED = 0
#: Bootstrap resamples of the mean ranks, unless the bench says otherwise.
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class RankInterval:
    """A mean rank (or a difference of mean ranks) with its 95% bootstrap interval."""

    method: str
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Outcome:
    """One EMMA variant against the best peer: rank difference and clean difference."""

    method: str
    rank_diff: RankInterval
    clean_diff: float
    recommended: bool


@dataclass
class FailureSummary:
    """Everything the report says about the unanticipated failures of one data set."""

    areas: pd.DataFrame
    comparisons: list[PairedComparison]
    ranks: list[RankInterval]
    outcomes: list[Outcome]
    peer: str


def failure_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """The rows of the failure conditions."""
    if "family" not in scores:
        return scores.iloc[0:0]
    return scores[scores["family"] == "failure"]


def area_label(kind: str, count: int) -> str:
    """``gain:1mode`` or ``gain:2modes``: the row of one area."""
    return f"{kind}:{count}mode" + ("s" if count > 1 else "")


def failure_areas(scores: pd.DataFrame) -> pd.DataFrame:
    """Per seed, method, kind and count of failing modes: the mean metric over the
    severities (and modes); columns ``seed, method, kind, count, area, label``."""
    rows = failure_scores(scores)
    areas = (
        rows.groupby(["seed", "method", "kind", "count"], sort=False)["score"]
        .mean()
        .rename("area")
        .reset_index()
    )
    areas["count"] = areas["count"].astype(int)
    areas["label"] = [area_label(k, c) for k, c in zip(areas["kind"], areas["count"], strict=True)]
    return areas


def _rank_matrix(scores: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Per seed (rows: seed, condition) the rank of each method (columns), 1 = best."""
    wide = failure_scores(scores).pivot_table(
        index=["seed", "condition"], columns="method", values="score"
    )
    return wide[list(methods)].rank(axis=1, ascending=False, method="average")


def _bootstrap(per_seed: pd.DataFrame, resamples: int) -> np.ndarray:
    """Means over resampled seeds, ``(resamples, columns)``."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    values = per_seed.to_numpy()
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    return values[picks].mean(axis=1)


def mean_ranks(
    scores: pd.DataFrame, methods: Sequence[str], resamples: int = BOOTSTRAP_RESAMPLES
) -> list[RankInterval]:
    """Every method's mean rank over the failure conditions and seeds, with a bootstrap
    interval over seeds."""
    per_seed = _rank_matrix(scores, methods).groupby(level="seed").mean()
    boot = _bootstrap(per_seed, resamples)
    low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    means = per_seed.mean()
    return [
        RankInterval(m, float(means[m]), float(low[i]), float(high[i]))
        for i, m in enumerate(per_seed.columns)
    ]


def rank_difference(
    scores: pd.DataFrame,
    methods: Sequence[str],
    method: str,
    peer: str,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> RankInterval:
    """Mean rank of ``method`` minus that of ``peer`` (negative: ``method`` ranks better),
    with a bootstrap interval over seeds."""
    ranks = _rank_matrix(scores, methods)
    per_seed = (ranks[method] - ranks[peer]).groupby(level="seed").mean().to_frame()
    boot = _bootstrap(per_seed, resamples)[:, 0]
    low, high = np.percentile(boot, [2.5, 97.5])
    return RankInterval(method, float(per_seed.iloc[:, 0].mean()), float(low), float(high))


def clean_difference(scores: pd.DataFrame, method: str, peer: str) -> float:
    """Mean over seeds of ``method``'s clean metric minus ``peer``'s."""
    clean = scores[scores["condition"] == "clean"].pivot_table(
        index="seed", columns="method", values="score"
    )
    return float((clean[method] - clean[peer]).mean())


def summarise_failures(
    scores: pd.DataFrame,
    methods: Sequence[str],
    emma_methods: Sequence[str],
    peer: str,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> FailureSummary | None:
    """The summary of the failure conditions in ``scores`` (None when there are none)."""
    if failure_scores(scores).empty:
        return None
    areas = failure_areas(scores)
    wide = areas.pivot_table(index=["label", "seed"], columns="method", values="area")
    labels = list(dict.fromkeys(areas["label"]))
    comparisons = []
    for method in emma_methods:
        for label in labels:
            part = wide.loc[label].sort_index()
            comparisons.append(
                compare(
                    part[method].tolist(),
                    part[peer].tolist(),
                    a=method,
                    b=peer,
                    condition=f"area:{label}",
                )
            )
    enough = scores["seed"].nunique() >= MIN_SEEDS_FOR_VERDICT
    outcomes = []
    for method in emma_methods:
        diff = rank_difference(scores, methods, method, peer, resamples)
        clean = clean_difference(scores, method, peer)
        better = diff.high < 0 and clean >= -CLEAN_TOLERANCE
        outcomes.append(Outcome(method, diff, clean, enough and better))
    return FailureSummary(
        areas=areas,
        comparisons=comparisons,
        ranks=mean_ranks(scores, methods, resamples),
        outcomes=outcomes,
        peer=peer,
    )


def summary_payload(summary: FailureSummary) -> dict[str, Any]:
    """The summary as plain data for ``results.json``."""
    return {
        "peer": summary.peer,
        "ranks": [vars(r) for r in summary.ranks],
        "outcomes": [
            {
                "method": o.method,
                "rank_diff": vars(o.rank_diff),
                "clean_diff": o.clean_diff,
                "recommended": o.recommended,
            }
            for o in summary.outcomes
        ],
        "area_comparisons": [c.as_dict() for c in summary.comparisons],
    }
