"""Area under a metric-versus-noise curve, relative and effective robustness, by hand."""

from __future__ import annotations

import pytest
import torch
from emma_lab.metrics.robustness import (
    area_under_curve,
    effective_robustness,
    relative_robustness,
)

LEVELS = [0.0, 0.5, 1.0]


def test_area_of_a_known_curve() -> None:
    # a line from 1 to 0 over [0, 2]: area 1, mean 0.5
    assert relative_robustness([0.0, 2.0], [1.0, 0.0]) == pytest.approx(1.0)
    assert area_under_curve([0.0, 2.0], [1.0, 0.0]) == pytest.approx(0.5)
    # uneven levels: trapezoids 0.1 * (0.9 + 0.8) / 2 + 0.4 * (0.8 + 0.4) / 2 = 0.325
    assert relative_robustness([0.0, 0.1, 0.5], [0.9, 0.8, 0.4]) == pytest.approx(0.325)
    assert area_under_curve([0.0, 0.1, 0.5], [0.9, 0.8, 0.4]) == pytest.approx(0.325 / 0.5)
    assert area_under_curve(torch.tensor(LEVELS), torch.tensor([0.7] * 3)) == pytest.approx(0.7)


def test_effective_robustness_of_a_known_pair() -> None:
    method, late = [0.9, 0.8, 0.6], [0.8, 0.6, 0.4]
    # late fusion shifted to 0.9 at clean: [0.9, 0.7, 0.5]; gaps [0, 0.1, 0.1]
    # area 0.5 * (0 + 0.1) / 2 + 0.5 * (0.1 + 0.1) / 2 = 0.075
    assert effective_robustness(LEVELS, method, late) == pytest.approx(0.075)
    assert effective_robustness(LEVELS, late, method) == pytest.approx(-0.075)


def test_effective_robustness_ignores_a_constant_offset() -> None:
    late = [0.8, 0.6, 0.4]
    shifted = [v - 0.3 for v in late]  # worse everywhere, but drops at the same rate
    assert effective_robustness(LEVELS, shifted, late) == pytest.approx(0.0)
    assert effective_robustness(LEVELS, late, late) == 0.0


@pytest.mark.parametrize(
    ("levels", "values", "match"),
    [
        ([0.0, 1.0], [0.5], "equal length"),
        ([0.0], [0.5], "at least two"),
        ([0.0, 1.0, 0.5], [0.5, 0.4, 0.3], "strictly increasing"),
        ([], [], "empty"),
    ],
)
def test_bad_curves_are_explained(levels: list[float], values: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        area_under_curve(levels, values)
