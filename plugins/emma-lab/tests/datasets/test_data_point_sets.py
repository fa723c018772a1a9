"""Wave and circle point sets: one 2-D mode, zero target, seeded."""

from __future__ import annotations

import numpy as np
import pytest
from emma_lab.datasets import load_circle, load_wave


@pytest.mark.parametrize("load", [load_wave, load_circle])
def test_single_mode_unsupervised(load) -> None:  # type: ignore[no-untyped-def]
    data = load(n=50, seed=2)
    assert data.mode_names == ["xy"] and data.mode_shapes == [(2,)]
    assert data.task == "unsupervised" and not data.target.any()
    assert data.features.equals(load(n=50, seed=2).features)
    assert not data.features.equals(load(n=50, seed=3).features)


def test_circle_points_lie_on_radius_three() -> None:
    (xy,) = load_circle(n=100).mode_arrays()
    assert np.allclose(np.linalg.norm(xy, axis=1), 3.0, atol=1e-5)
