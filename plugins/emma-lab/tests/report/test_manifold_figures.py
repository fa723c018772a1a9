"""Figures 4.6 and 4.7 from grid evaluations: valid PNGs with the expected panel layout."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from emma_lab.experiments.manifolds import GridEvaluation
from emma_lab.report.manifold_figures import plot_heat_maps, plot_vector_fields
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def bowl(steps: int = 41, centre: tuple[float, float] = (0.0, 0.0)) -> GridEvaluation:
    """A grid where everything flows to ``centre``: Psi = ||x - c||^2 / 2, field = c - x."""
    axis = np.linspace(-5, 5, steps)
    grid_x, grid_y = np.meshgrid(axis, axis, indexing="xy")
    field = np.stack([centre[0] - grid_x, centre[1] - grid_y], axis=-1)
    norm = np.linalg.norm(field, axis=-1)
    return GridEvaluation(axis, axis, 0.5 * norm**2, norm, field)


def read_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    return pixels


def test_vector_fields_one_panel_per_manifold(tmp_path: Path) -> None:
    grids = {"wave": bowl(), "circle": bowl(centre=(2.0, -1.0))}
    curves = {"circle": 3 * np.stack([np.sin(t := np.linspace(0, 6.3, 50)), np.cos(t)], axis=1)}
    path = plot_vector_fields(grids, tmp_path / "fields.png", curves=curves)
    assert path == tmp_path / "fields.png"
    wide = read_png(path)
    single = read_png(plot_vector_fields({"wave": bowl()}, tmp_path / "one.png"))
    assert wide.shape[0] == single.shape[0]
    assert wide.shape[1] == pytest.approx(2 * single.shape[1], rel=0.02)
    assert wide[..., :3].std() > 0.05  # arrows were drawn, not a blank canvas


def test_heat_maps_two_rows_one_column_per_manifold(tmp_path: Path) -> None:
    grids = {"wave": bowl(), "circle": bowl(steps=101)}
    pixels = read_png(plot_heat_maps(grids, tmp_path / "maps.png"))
    single = read_png(plot_heat_maps({"circle": bowl()}, tmp_path / "one.png"))
    assert pixels.shape[0] == single.shape[0] == pytest.approx(2 * single.shape[1], rel=0.02)
    assert pixels.shape[1] == pytest.approx(2 * single.shape[1], rel=0.02)
    assert pixels[..., :3].std() > 0.05


def test_figures_overwrite_and_leave_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "figures" / "maps.png"
    plot_heat_maps({"wave": bowl()}, target)
    plot_heat_maps({"wave": bowl(centre=(1.0, 1.0))}, target)
    assert [p.name for p in target.parent.iterdir()] == ["maps.png"]
    read_png(target)


def test_bad_grids_are_rejected_with_the_field_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="grids is empty"):
        plot_heat_maps({}, tmp_path / "x.png")
    broken = replace(bowl(), potential=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"grids\['wave'\]\.potential has shape \(3, 3\)"):
        plot_heat_maps({"wave": broken}, tmp_path / "x.png")
    broken = replace(bowl(), field=np.zeros((41, 41)))
    with pytest.raises(ValueError, match=r"grids\['wave'\]\.field has shape"):
        plot_vector_fields({"wave": broken}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="stride must be >= 1"):
        plot_vector_fields({"wave": bowl()}, tmp_path / "x.png", stride=0)
    assert not any(tmp_path.iterdir())
