"""Experiment I (section 4.3) with its own settings: what the thesis claims of figures 4.6-4.7.

The module fixture fits one DAE per manifold with the full settings (10,000 points, 100
epochs: about 6 s each on 2 CPU cores), so the claims are checked on the real experiment.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from emma_lab.experiments.manifolds import (
    ExperimentISettings,
    GridEvaluation,
    evaluate_grid,
    fit_manifold_dae,
    get_manifold,
    manifold_scores,
    probe_points,
    run_manifold_experiment,
    summarize_energies,
)
from scipy.interpolate import RegularGridInterpolator

from emma_plugins.core.errors import UnknownKindError
from emma_plugins.estimators import TiedDAE

Fitted = dict[str, tuple[TiedDAE, GridEvaluation]]


def fit_and_grid(settings: ExperimentISettings) -> Fitted:
    fitted = {}
    for name in ("wave", "circle"):
        model = fit_manifold_dae(name, settings)
        fitted[name] = (model, evaluate_grid(model))
    return fitted


@pytest.fixture(scope="module")
def experiment() -> Fitted:
    return fit_and_grid(ExperimentISettings())


def on_grid(grid: GridEvaluation, score: str, points: np.ndarray) -> np.ndarray:
    """Bilinear reading of a grid map at ``(N, 2)`` points ``(x1, x2)``."""
    interpolate = RegularGridInterpolator((grid.ys, grid.xs), getattr(grid, score))
    return interpolate(points[:, ::-1])


#: Share of probe angles where the manifold must score below both offsets. The potential
#: reached 100 % on seeds 0-10; the norm did too except for the wave at seed 3 (91 %).
VALLEY_SHARE = {"potential": 0.95, "error_norm": 0.85}


def assert_manifold_is_a_valley(fitted: Fitted) -> None:
    """On-manifold points score below both offsets (+-1.5 along the normal) at most of 360
    angles, for the potential and for the reconstruction-error norm, read on the grid."""
    for name, (_, grid) in fitted.items():
        on, minus, plus = probe_points(name, offset=1.5, angles=360)
        for score, share in VALLEY_SHARE.items():
            at_on, at_minus, at_plus = (on_grid(grid, score, p) for p in (on, minus, plus))
            below_both = np.mean((at_on < at_minus) & (at_on < at_plus))
            assert below_both >= share, (name, score, below_both)


def assert_origin_claims(fitted: Fitted) -> None:
    """Figure 4.7 on the circle: a spurious low of the error norm at the origin (<= 5th
    percentile of the grid) that the potential does not share (>= 50th percentile)."""
    model, grid = fitted["circle"]
    centre = len(grid.xs) // 2
    assert grid.xs[centre] == 0.0 and grid.ys[centre] == 0.0
    error_rank = np.mean(grid.error_norm < grid.error_norm[centre, centre])
    potential_rank = np.mean(grid.potential < grid.potential[centre, centre])
    assert error_rank <= 0.05
    assert potential_rank >= 0.50
    # Figure 4.6b: the origin is a source, the field points outward all around it.
    t = np.linspace(0.0, 2.0 * math.pi, 72, endpoint=False)
    ring = 0.5 * np.stack([np.sin(t), np.cos(t)], axis=1)
    outward = np.sum(manifold_scores(model, ring)["field"] * ring, axis=1)
    assert np.all(outward > 0)


def test_manifolds_are_valleys_of_both_scores(experiment: Fitted) -> None:
    assert_manifold_is_a_valley(experiment)


def test_circle_centre_is_a_spurious_sink_of_the_error_norm_only(experiment: Fitted) -> None:
    assert_origin_claims(experiment)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_claims_hold_for_other_seeds(seed: int) -> None:
    fitted = fit_and_grid(ExperimentISettings(seed=seed))
    assert_manifold_is_a_valley(fitted)
    assert_origin_claims(fitted)


def test_grid_is_indexed_row_y_column_x(experiment: Fitted) -> None:
    model, grid = experiment["wave"]
    assert grid.potential.shape == grid.error_norm.shape == (101, 101)
    assert grid.field.shape == (101, 101, 2)
    np.testing.assert_allclose(grid.xs, np.linspace(-5, 5, 101))
    rows, cols = np.array([0, 10, 70, 100]), np.array([100, 33, 5, 0])
    points = np.stack([grid.xs[cols], grid.ys[rows]], axis=1)
    direct = manifold_scores(model, points)
    np.testing.assert_allclose(grid.potential[rows, cols], direct["potential"], rtol=1e-6)
    np.testing.assert_allclose(grid.error_norm[rows, cols], direct["error_norm"], rtol=1e-6)
    np.testing.assert_allclose(grid.field[rows, cols], direct["field"], rtol=1e-6)


def test_summary_agrees_with_the_grid_claims(experiment: Fitted) -> None:
    model, _ = experiment["circle"]
    energies = summarize_energies(model, "circle")
    assert energies.manifold == "circle"
    assert energies.final_loss == model.history_[-1]
    for summary in (energies.potential, energies.error_norm):
        assert summary.separation >= 0.95
        assert summary.on < summary.off
    assert energies.error_norm.origin < energies.error_norm.off
    assert energies.potential.origin > energies.potential.on
    at_origin = model.potential(torch.zeros(1, 2)).item()
    assert energies.potential.origin == pytest.approx(at_origin)


def test_probe_points_lie_on_and_beside_the_manifolds() -> None:
    on, inner, outer = probe_points("circle", offset=1.5, angles=360)
    for points, radius in ((on, 3.0), (inner, 1.5), (outer, 4.5)):
        assert points.shape == (360, 2)
        np.testing.assert_allclose(np.linalg.norm(points, axis=1), radius)
    on, below, above = probe_points("wave", offset=1.5, angles=90)
    np.testing.assert_allclose(on[:, 1], np.sin(on[:, 0] + math.pi), atol=1e-12)
    np.testing.assert_allclose(below, on - np.array([0.0, 1.5]))
    np.testing.assert_allclose(above, on + np.array([0.0, 1.5]))


def test_fitting_is_reproducible_from_the_settings() -> None:
    settings = ExperimentISettings(points=300, epochs=2, seed=5)
    first, second = (fit_manifold_dae("wave", settings) for _ in range(2))
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    other = fit_manifold_dae("wave", settings.replace(seed=6))
    assert not torch.equal(first.weight, other.weight)
    assert (first.hidden, first.sigma, first.batch_size) == (8, 0.008, 100)


def test_run_writes_figures_and_summarises_each_manifold(tmp_path: Path) -> None:
    settings = ExperimentISettings(points=300, epochs=2, grid_steps=21)
    result = run_manifold_experiment(tmp_path / "out", settings, progress=False)
    assert set(result.energies) == {"wave", "circle"}
    assert result.settings == settings
    assert set(result.figures) == {"vector_fields", "heat_maps"}
    for path in result.figures.values():
        assert path.parent == tmp_path / "out"
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert result.seconds > 0


def test_unknown_manifold_fails_before_training(tmp_path: Path) -> None:
    with pytest.raises(
        UnknownKindError, match=r"Unknown manifold 'cirle'\. Available: circle, wave"
    ):
        run_manifold_experiment(tmp_path, manifolds=("wave", "cirle"), progress=False)
    assert not any(tmp_path.iterdir())
    with pytest.raises(UnknownKindError):
        get_manifold("spiral")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("points", 0),
        ("epochs", -1),
        ("hidden", 2.0),
        ("grid_steps", 1),
        ("sigma", -0.1),
        ("lr", 0.0),
        ("grid_limit", math.inf),
    ],
)
def test_settings_reject_bad_values_by_name(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"ExperimentISettings.{field} must be"):
        ExperimentISettings().replace(**{field: value})
