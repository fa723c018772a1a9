"""Shared pieces of the analyses: areas, batched metrics, fan-out, levels and subsets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from emma_lab.analyses import fan_out, normalised_area
from emma_lab.analyses.common import (
    block_metric,
    mean_std,
    sigma_levels,
    sigma_matrix,
    subsample,
)
from emma_lab.metrics.metrics import task_metric

from emma_plugins.training.batches import TensorSplit


def test_area_of_known_curves() -> None:
    sigmas = np.linspace(0.0, 3.0, 13)
    assert normalised_area(sigmas, np.full(13, 0.8)) == pytest.approx(0.8)
    assert normalised_area(sigmas, 1 - sigmas / 3) == pytest.approx(0.5)
    # uneven grid: a step from 1 to 0 between 0 and 1 on [0, 4] -> triangle 0.5 / 4
    assert normalised_area([0.0, 1.0, 4.0], np.array([1.0, 0.0, 0.0])) == pytest.approx(0.125)


def test_area_is_vectorised_over_leading_axes() -> None:
    values = np.stack([np.full(5, 0.2), np.linspace(1, 0, 5)])
    assert normalised_area(np.linspace(0, 2, 5), values) == pytest.approx([0.2, 0.5])


@pytest.mark.parametrize(
    ("sigmas", "values", "message"),
    [
        ([0.0], [1.0], "at least two"),
        ([0.0, 1.0], [1.0], "one value"),
        ([1.0, 0.0], [1, 1], "increasing"),
    ],
)
def test_area_rejects_bad_grids(sigmas, values, message) -> None:
    with pytest.raises(ValueError, match=message):
        normalised_area(sigmas, np.asarray(values, dtype=float))


def test_block_metric_matches_task_metric() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=50)
    scores = rng.random((4, 50))
    scores[3] = 0.0  # nothing predicted positive: F1 is 0, as scikit-learn's zero_division=0
    expected = [task_metric(y, s, 0.4) for s in scores]
    assert block_metric(y, scores, 0.4, binary=True) == pytest.approx(expected)
    classes = rng.integers(0, 3, size=50)
    probabilities = rng.random((2, 50, 3))
    expected = [task_metric(classes, p) for p in probabilities]
    assert block_metric(classes, probabilities, 0.5, binary=False) == pytest.approx(expected)


def test_fan_out_calls_every_collector_in_order() -> None:
    calls: list[tuple[str, object, object]] = []
    first = lambda d, o: calls.append(("first", d, o))  # noqa: E731
    second = lambda d, o: calls.append(("second", d, o))  # noqa: E731
    fan_out([first, second])("data", "outcome")  # type: ignore[arg-type]
    assert calls == [("first", "data", "outcome"), ("second", "data", "outcome")]


def test_sigma_levels_add_zero_and_extra_levels_sorted() -> None:
    assert sigma_levels([1.0, 0.5], include=[2.0, 0.5]).tolist() == [0.0, 0.5, 1.0, 2.0]
    with pytest.raises(ValueError, match=">= 0"):
        sigma_levels([-1.0, 1.0])
    with pytest.raises(ValueError, match="above 0"):
        sigma_levels([0.0])


def test_sigma_matrix_puts_levels_on_chosen_modes() -> None:
    matrix = sigma_matrix(np.array([0.0, 1.0]), 3, [0, 2])
    assert matrix.tolist() == [[0, 0, 0], [1, 0, 1]]


def test_subsample_is_seeded_and_capped() -> None:
    split = TensorSplit.clean([torch.arange(10.0).reshape(10, 1)], torch.arange(10))
    assert subsample(split, None, 0) is split
    first, again = subsample(split, 4, seed=3), subsample(split, 4, seed=3)
    assert len(first) == 4 and torch.equal(first.y, again.y)
    assert torch.equal(first.modes[0].squeeze(1), first.y.float())  # rows stay aligned


def test_mean_std_skips_nan_and_handles_one_value() -> None:
    assert mean_std([0.5, float("nan"), 0.7]) == "0.600 ± 0.141"
    assert mean_std([0.25]) == "0.250 ± 0.000"
    assert mean_std([float("nan")]) == "n/a"
