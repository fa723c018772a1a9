"""Paired comparisons: the interval, the verdict and its wording."""

from __future__ import annotations

import math

import pytest
from emma_lab.metrics.stats import compare, paired_interval, verdict
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats


def test_interval_matches_a_hand_computed_t_interval() -> None:
    diffs = [0.01, 0.03, 0.02, 0.04]
    mean, low, high = paired_interval(diffs)
    sd = stats.tstd(diffs)
    half = stats.t.ppf(0.975, 3) * sd / 2
    assert mean == pytest.approx(0.025)
    assert (low, high) == pytest.approx((0.025 - half, 0.025 + half))


@pytest.mark.parametrize(
    ("low", "high", "expected"), [(0.1, 0.2, "win"), (-0.2, -0.1, "lose"), (-0.1, 0.1, "tie")]
)
def test_verdict_follows_the_interval(low: float, high: float, expected: str) -> None:
    assert verdict(low, high) == expected


def test_compare_pairs_by_seed_and_words_the_verdict() -> None:
    result = compare([0.9, 0.8, 0.85], [0.7, 0.6, 0.66], a="with", b="without", condition="clean")
    assert result.verdict == "win"
    assert result.sentence().startswith("with beats without on clean")
    tie = compare([0.5, 0.6, 0.7], [0.6, 0.5, 0.7], a="a", b="b", condition="x")
    assert tie.verdict == "tie"


def test_one_seed_gives_an_unbounded_interval_and_no_verdict() -> None:
    result = compare([0.9], [0.1], a="a", b="b", condition="x")
    assert math.isinf(result.low) and result.verdict == "too_few_seeds"


@given(
    a=st.lists(st.floats(0, 1), min_size=1, max_size=2),
    shift=st.floats(-1, 1),
)
def test_fewer_than_three_seeds_never_give_a_verdict(a: list[float], shift: float) -> None:
    """However clear the difference, an interval over 1 or 2 seeds is not a verdict."""
    result = compare(a, [x - shift for x in a], a="a", b="b", condition="x")
    assert result.verdict == "too_few_seeds" and result.label == "NO VERDICT"
    assert "too few seeds for a verdict (at least 3)" in result.sentence()


def test_unpaired_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same seeds"):
        compare([0.1, 0.2], [0.3], a="a", b="b", condition="x")
