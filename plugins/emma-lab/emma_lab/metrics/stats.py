"""Paired comparisons over seeds: mean difference, 95% interval, and a plain verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy import stats

Verdict = Literal["win", "tie", "lose", "too_few_seeds"]

#: A paired interval from fewer seeds than this is reported, but never as a verdict: with
#: two seeds the t-interval is too wide to mean much and too easily zero-width.
MIN_SEEDS_FOR_VERDICT = 3


@dataclass(frozen=True)
class PairedComparison:
    """``a`` against ``b`` on the same seeds: a "win" means the 95% interval of the
    per-seed differences ``a - b`` excludes 0 on the positive side."""

    a: str
    b: str
    condition: str
    n: int
    mean_diff: float
    low: float
    high: float
    verdict: Verdict

    @property
    def label(self) -> str:
        """The verdict as a report shows it: ``WIN``, ``TIE``, ``LOSE`` or ``NO VERDICT``."""
        return "NO VERDICT" if self.verdict == "too_few_seeds" else self.verdict.upper()

    def sentence(self) -> str:
        numbers = (
            f"mean difference {self.mean_diff:+.4f}, 95% CI [{self.low:+.4f}, {self.high:+.4f}] "
            f"over {self.n} seeds"
        )
        if self.verdict == "too_few_seeds":
            return (
                f"{self.a} against {self.b} on {self.condition}: {numbers}; too few seeds for "
                f"a verdict (at least {MIN_SEEDS_FOR_VERDICT})."
            )
        word = {"win": "beats", "tie": "ties with", "lose": "loses to"}[self.verdict]
        return f"{self.a} {word} {self.b} on {self.condition}: {numbers}."

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def paired_interval(diffs: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of the differences and its Student-t interval (degenerate for one seed)."""
    values = np.asarray(diffs, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, -math.inf, math.inf
    sem = float(values.std(ddof=1) / math.sqrt(len(values)))
    if sem == 0.0:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, df=len(values) - 1)) * sem
    return mean, mean - half, mean + half


def verdict(low: float, high: float, n: int = MIN_SEEDS_FOR_VERDICT) -> Verdict:
    """``win`` when the interval excludes 0 on the positive side, ``lose`` on the negative
    side, else ``tie``; ``too_few_seeds`` below `MIN_SEEDS_FOR_VERDICT` seeds."""
    if n < MIN_SEEDS_FOR_VERDICT:
        return "too_few_seeds"
    if low > 0:
        return "win"
    if high < 0:
        return "lose"
    return "tie"


def compare(
    a_scores: Sequence[float], b_scores: Sequence[float], *, a: str, b: str, condition: str
) -> PairedComparison:
    """Paired comparison of two methods' per-seed scores (same seeds, same order)."""
    if len(a_scores) != len(b_scores):
        raise ValueError(
            f"Paired comparison needs the same seeds for both methods: {a} has "
            f"{len(a_scores)} scores, {b} has {len(b_scores)}."
        )
    diffs = np.asarray(a_scores, dtype=float) - np.asarray(b_scores, dtype=float)
    mean, low, high = paired_interval(diffs)
    n = len(diffs)
    return PairedComparison(a, b, condition, n, mean, low, high, verdict(low, high, n))


def verdict_cell(comparison: PairedComparison) -> str:
    """``win +0.0123 [+0.0040, +0.0206]``: verdict, mean difference and 95% interval."""
    return (
        f"{comparison.label.lower()} {comparison.mean_diff:+.4f} "
        f"[{comparison.low:+.4f}, {comparison.high:+.4f}]"
    )
