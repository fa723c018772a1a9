"""Experiment I (section 4.3): tied DAEs on the wave and circle manifolds, read on a grid.

One DAE is fitted per manifold; its potential (4.7) and the norm of its reconstruction
error ``||r(x) - x||`` are evaluated on a regular grid over ``[-5, 5]^2`` and drawn as the
thesis' figures 4.6 and 4.7. The experiment checks the estimator: both scores are low on the
manifold and high away from it, but only the potential stays high at the circle's centre,
where the reconstruction field has a source and its norm a spurious minimum.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emma_lab.datasets.manifolds import CIRCLE_RADIUS, circle, circle_curve, wave, wave_curve
from emma_plugins.core.errors import UnknownKindError
from emma_plugins.estimators import TiedDAE
from emma_plugins.training.threads import torch_threads

#: The offset, along the manifold's normal direction, of the "off the manifold" probes.
PROBE_OFFSET = 1.5
#: Number of evenly spaced angles at which the manifold is probed.
PROBE_ANGLES = 360


@dataclass(frozen=True)
class ExperimentISettings:
    """Settings of Experiment I; the defaults are the experiment's (10,000 points, 100 epochs).

    The same seed draws the manifold's points, initialises the DAE and drives its shuffling
    and noise, so a run is reproducible from the settings alone.
    """

    points: int = 10_000
    epochs: int = 100
    hidden: int = 8
    batch_size: int = 100
    sigma: float = 0.008
    lr: float = 1e-3
    seed: int = 0
    grid_limit: float = 5.0
    grid_steps: int = 101

    def __post_init__(self) -> None:
        minima = {"points": 1, "epochs": 0, "hidden": 1, "batch_size": 1, "grid_steps": 2}
        for name, minimum in minima.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"ExperimentISettings.{name} must be an integer >= {minimum}.")
        for name in ("sigma", "lr", "grid_limit"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (name != "sigma" and value == 0):
                relation = ">= 0" if name == "sigma" else "> 0"
                raise ValueError(f"ExperimentISettings.{name} must be finite and {relation}.")

    def replace(self, **changes: Any) -> ExperimentISettings:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Manifold:
    """A generated manifold: how to sample it and where its probe points lie."""

    name: str
    sample: Callable[[int, int], np.ndarray]
    curve: Callable[[np.ndarray], np.ndarray]
    #: Unit direction, at angle ``t``, along which "off the manifold" probes are placed.
    normal: Callable[[np.ndarray], np.ndarray]


def _vertical(t: np.ndarray) -> np.ndarray:
    return np.tile(np.array([0.0, 1.0]), (len(t), 1))


def _radial(t: np.ndarray) -> np.ndarray:
    return circle_curve(t) / CIRCLE_RADIUS


MANIFOLDS: dict[str, Manifold] = {
    "wave": Manifold("wave", wave, wave_curve, _vertical),
    "circle": Manifold("circle", circle, circle_curve, _radial),
}


def get_manifold(name: str) -> Manifold:
    """The manifold called ``name``, or an error that lists the available ones."""
    try:
        return MANIFOLDS[name]
    except KeyError:
        raise UnknownKindError(
            f"Unknown manifold {name!r}. Available: {', '.join(sorted(MANIFOLDS))}."
        ) from None


def probe_points(
    name: str, offset: float = PROBE_OFFSET, angles: int = PROBE_ANGLES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points on the manifold and offset by ``-offset`` / ``+offset`` along its normal.

    Returns three ``(angles, 2)`` arrays at evenly spaced angles; for the circle the offsets
    are the radii ``3 - offset`` and ``3 + offset``, for the wave vertical shifts.
    """
    manifold = get_manifold(name)
    t = np.linspace(0.0, 2.0 * math.pi, angles, endpoint=False)
    on = manifold.curve(t)
    step = offset * manifold.normal(t)
    return on, on - step, on + step


def fit_manifold_dae(
    name: str,
    settings: ExperimentISettings | None = None,
    *,
    progress: bool = False,
    estimator: type[TiedDAE] = TiedDAE,
) -> TiedDAE:
    """Fit a tied DAE on the manifold ``name`` with Experiment I settings.

    ``estimator`` exists for the untied negative control (`experiments.controls.UntiedDAE`),
    which must train exactly like the tied DAE.
    """
    settings = settings or ExperimentISettings()
    data = get_manifold(name).sample(settings.points, settings.seed)
    model = estimator(
        2,
        hidden=settings.hidden,
        sigma=settings.sigma,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        lr=settings.lr,
        seed=settings.seed,
    )
    with torch_threads(1):
        model.fit(data, progress=progress)
    return model


@torch.no_grad()
def manifold_scores(model: TiedDAE, points: np.ndarray) -> dict[str, np.ndarray]:
    """The potential and the reconstruction-error norm ``||r(x) - x||`` at ``(N, 2)`` points."""
    x = torch.as_tensor(np.asarray(points), dtype=torch.float32)
    field_ = model.reconstruction_field(x)
    return {
        "potential": model.potential(x).numpy(),
        "error_norm": field_.norm(dim=1).numpy(),
        "field": field_.numpy(),
    }


@dataclass(frozen=True)
class GridEvaluation:
    """Scores on a square grid; 2-D arrays are indexed ``[row = y, column = x]``."""

    xs: np.ndarray
    ys: np.ndarray
    potential: np.ndarray
    error_norm: np.ndarray
    #: The reconstruction error ``r(x) - x``, shape ``(len(ys), len(xs), 2)``.
    field: np.ndarray


def evaluate_grid(model: TiedDAE, limit: float = 5.0, steps: int = 101) -> GridEvaluation:
    """Evaluate ``model`` on a ``steps x steps`` grid over ``[-limit, limit]^2``."""
    axis = np.linspace(-limit, limit, steps)
    grid_x, grid_y = np.meshgrid(axis, axis, indexing="xy")
    scores = manifold_scores(model, np.stack([grid_x.ravel(), grid_y.ravel()], axis=1))
    return GridEvaluation(
        xs=axis,
        ys=axis,
        potential=scores["potential"].reshape(steps, steps),
        error_norm=scores["error_norm"].reshape(steps, steps),
        field=scores["field"].reshape(steps, steps, 2),
    )


@dataclass(frozen=True)
class ScoreSummary:
    """One score read on the manifold, off it, and at the origin."""

    on: float
    """Mean over the probe points on the manifold."""
    off: float
    """Mean over the probe points offset on both sides of the manifold."""
    origin: float
    """Value at ``(0, 0)``: the circle's centre, where the reconstruction field has a source."""
    separation: float
    """Fraction of probe angles where the on-manifold value is below both offset values."""


@dataclass(frozen=True)
class ManifoldEnergies:
    manifold: str
    potential: ScoreSummary
    error_norm: ScoreSummary
    final_loss: float


def summarize_energies(
    model: TiedDAE, name: str, offset: float = PROBE_OFFSET, angles: int = PROBE_ANGLES
) -> ManifoldEnergies:
    """Summarise both scores of a fitted model on, off and away from manifold ``name``."""
    on, minus, plus = probe_points(name, offset, angles)
    at_origin = manifold_scores(model, np.zeros((1, 2)))
    probes = [manifold_scores(model, points) for points in (on, minus, plus)]
    summaries = {}
    for score in ("potential", "error_norm"):
        at_on, at_minus, at_plus = (probe[score] for probe in probes)
        summaries[score] = ScoreSummary(
            on=float(at_on.mean()),
            off=float(np.concatenate([at_minus, at_plus]).mean()),
            origin=float(at_origin[score][0]),
            separation=float(np.mean((at_on < at_minus) & (at_on < at_plus))),
        )
    history: list[float] = getattr(model, "history_", [])
    return ManifoldEnergies(
        manifold=name,
        potential=summaries["potential"],
        error_norm=summaries["error_norm"],
        final_loss=history[-1] if history else float("nan"),
    )


@dataclass(frozen=True)
class ExperimentIResult:
    """What `run_manifold_experiment` returns: energies per manifold and the figure paths."""

    settings: ExperimentISettings
    energies: dict[str, ManifoldEnergies]
    figures: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def run_manifold_experiment(
    out_dir: str | Path,
    settings: ExperimentISettings | None = None,
    *,
    manifolds: Sequence[str] = ("wave", "circle"),
    progress: bool = True,
) -> ExperimentIResult:
    """Fit one DAE per manifold, write figures 4.6 and 4.7 to ``out_dir``, summarise energies."""
    settings = settings or ExperimentISettings()
    for name in manifolds:
        get_manifold(name)  # fail on a typo before any training
    start = time.perf_counter()
    grids: dict[str, GridEvaluation] = {}
    energies: dict[str, ManifoldEnergies] = {}
    for name in manifolds:
        model = fit_manifold_dae(name, settings, progress=progress)
        grids[name] = evaluate_grid(model, settings.grid_limit, settings.grid_steps)
        energies[name] = summarize_energies(model, name)
    from emma_lab.report.manifold_figures import plot_heat_maps, plot_vector_fields  # matplotlib

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t = np.linspace(0.0, 2.0 * math.pi, 400)
    curves = {name: get_manifold(name).curve(t) for name in manifolds}
    figures = {
        "vector_fields": plot_vector_fields(grids, out / "fig4_6_vector_fields.png", curves=curves),
        "heat_maps": plot_heat_maps(grids, out / "fig4_7_heat_maps.png", curves=curves),
    }
    return ExperimentIResult(settings, energies, figures, time.perf_counter() - start)
