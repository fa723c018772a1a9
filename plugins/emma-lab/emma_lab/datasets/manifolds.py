"""The two generated 2-D manifolds of Experiment I (section 4.3): a sine wave and a circle.

Each maps angles ``t ~ U[0, 2 pi]`` onto a curve in the plane. The curves are also exposed
as functions of ``t`` (``wave_curve``, ``circle_curve``) so that experiments can place probe
points exactly on, or at a known offset from, the manifold.
"""

from __future__ import annotations

import math

import numpy as np

from emma_plugins.core.errors import DataError

CIRCLE_RADIUS = 3.0


def wave_curve(t: np.ndarray) -> np.ndarray:
    """``(t - pi, sin t)`` for every angle in ``t``; shape ``(len(t), 2)``."""
    t = np.asarray(t, dtype=np.float64)
    return np.stack([t - math.pi, np.sin(t)], axis=1)


def circle_curve(t: np.ndarray) -> np.ndarray:
    """``(3 sin t, 3 cos t)`` for every angle in ``t``; shape ``(len(t), 2)``."""
    t = np.asarray(t, dtype=np.float64)
    return CIRCLE_RADIUS * np.stack([np.sin(t), np.cos(t)], axis=1)


def uniform_angles(n: int, seed: int = 0) -> np.ndarray:
    """``n`` angles drawn uniformly in ``[0, 2 pi]`` from a generator seeded with ``seed``."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise DataError(f"n must be a non-negative integer number of points, got {n!r}.")
    return np.random.default_rng(seed).uniform(0.0, 2.0 * math.pi, size=int(n))


def wave(n: int, seed: int = 0) -> np.ndarray:
    """``n`` points of the wave manifold, shape ``(n, 2)``, float32."""
    return wave_curve(uniform_angles(n, seed)).astype(np.float32)


def circle(n: int, seed: int = 0) -> np.ndarray:
    """``n`` points of the circle manifold (radius 3, centred on 0), shape ``(n, 2)``, float32."""
    return circle_curve(uniform_angles(n, seed)).astype(np.float32)
