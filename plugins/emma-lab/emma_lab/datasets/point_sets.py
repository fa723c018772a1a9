"""The wave and circle manifolds of section 4.3 as single-mode data sets.

They exist for energy-estimator experiments (does the potential rise off the manifold?):
one mode ``xy`` of two coordinates and a zero target, with task ``"unsupervised"``. They
are not classification tasks, so the trainer's multi-mode checks do not apply to them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from emma_lab.datasets import manifolds
from emma_plugins.sources.container import MultiModalData

COLUMNS = ["x", "y"]


def _point_set(
    name: str, sample: Callable[[int, int], np.ndarray], n: int, seed: int
) -> MultiModalData:
    points = np.asarray(sample(n, seed), dtype=np.float64)
    return MultiModalData(
        name=name,
        features=pd.DataFrame(points, columns=COLUMNS),
        target=np.zeros(len(points), dtype=np.int64),
        modes={"xy": list(COLUMNS)},
        task="unsupervised",
        n_classes=1,
        description=f"{n} points of the {name} manifold (thesis section 4.3), seed {seed}.",
    )


def load_wave(n: int = 1000, seed: int = 0) -> MultiModalData:
    """``n`` points of ``(t - pi, sin t)``, ``t ~ U[0, 2 pi]``."""
    return _point_set("wave", manifolds.wave, n, seed)


def load_circle(n: int = 1000, seed: int = 0) -> MultiModalData:
    """``n`` points of the radius-3 circle centred on the origin."""
    return _point_set("circle", manifolds.circle, n, seed)
