"""The generated manifolds of Experiment I (section 4.3)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from emma_lab.datasets.manifolds import circle, circle_curve, uniform_angles, wave, wave_curve

from emma_plugins.core.errors import DataError


@pytest.mark.parametrize("sample", [wave, circle])
def test_shape_dtype_and_seeding(sample: Callable[..., np.ndarray]) -> None:
    points = sample(500, seed=3)
    assert points.shape == (500, 2)
    assert points.dtype == np.float32
    np.testing.assert_array_equal(points, sample(500, seed=3))
    assert not np.array_equal(points, sample(500, seed=4))
    assert sample(0).shape == (0, 2)


def test_wave_follows_its_equation() -> None:
    points = wave(2_000, seed=1).astype(np.float64)
    t = points[:, 0] + math.pi
    assert t.min() >= 0.0 and t.max() <= 2 * math.pi
    np.testing.assert_allclose(points[:, 1], np.sin(t), atol=1e-6)


def test_circle_has_radius_three_and_uniform_angles() -> None:
    points = circle(20_000, seed=2).astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 3.0, rtol=1e-6)
    # x1 = 3 sin t, x2 = 3 cos t: the angle atan2(x1, x2) is t, uniform on the circle.
    angles = np.mod(np.arctan2(points[:, 0], points[:, 1]), 2 * math.pi)
    counts, _ = np.histogram(angles, bins=8, range=(0, 2 * math.pi))
    assert np.all(np.abs(counts / len(points) - 1 / 8) < 0.01)


def test_curves_match_samples() -> None:
    t = uniform_angles(100, seed=5)
    np.testing.assert_allclose(wave(100, seed=5), wave_curve(t), atol=1e-6)
    np.testing.assert_allclose(circle(100, seed=5), circle_curve(t), atol=1e-6)
    np.testing.assert_allclose(
        circle_curve(np.array([0.0, math.pi / 2])), [[0, 3], [3, 0]], atol=1e-12
    )


@pytest.mark.parametrize("bad", [-1, 2.5, "10", True])
def test_bad_n_names_the_argument(bad: object) -> None:
    with pytest.raises(DataError, match="n must be a non-negative integer"):
        wave(bad)  # type: ignore[arg-type]
