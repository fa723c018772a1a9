"""Figures 4.6 and 4.7 of the thesis: reconstruction fields and energy heat maps on a grid.

The functions take grid evaluations (any object with ``xs``, ``ys``, ``potential``,
``error_norm`` and ``field`` arrays, such as `experiments.manifolds.GridEvaluation`) and
write PNG files atomically; they know nothing about models or training.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from emma_lab.report.atomic import save_figure

PANEL_SIZE = 4.2


class EnergyGrid(Protocol):
    """Scores on a grid; 2-D arrays are indexed ``[row = y, column = x]``."""

    @property
    def xs(self) -> np.ndarray: ...
    @property
    def ys(self) -> np.ndarray: ...
    @property
    def potential(self) -> np.ndarray: ...
    @property
    def error_norm(self) -> np.ndarray: ...
    @property
    def field(self) -> np.ndarray: ...


def _check_grids(grids: Mapping[str, EnergyGrid]) -> None:
    if not grids:
        raise ValueError("grids is empty: pass at least one {manifold name: grid evaluation}.")
    for name, grid in grids.items():
        expected = (len(grid.ys), len(grid.xs))
        for attribute in ("potential", "error_norm"):
            if getattr(grid, attribute).shape != expected:
                raise ValueError(
                    f"grids[{name!r}].{attribute} has shape {getattr(grid, attribute).shape}, "
                    f"expected (len(ys), len(xs)) = {expected}."
                )
        if grid.field.shape != (*expected, 2):
            raise ValueError(
                f"grids[{name!r}].field has shape {grid.field.shape}, expected {(*expected, 2)}."
            )


def _draw_curve(
    axes: Axes, curves: Mapping[str, np.ndarray] | None, name: str, color: str = "white"
) -> None:
    if curves and name in curves:
        curve = curves[name]
        axes.plot(curve[:, 0], curve[:, 1], color=color, lw=1.0, ls="--", alpha=0.9)


def _frame(axes: Axes, grid: EnergyGrid, title: str) -> None:
    axes.set_xlim(grid.xs[0], grid.xs[-1])
    axes.set_ylim(grid.ys[0], grid.ys[-1])
    axes.set_aspect("equal")
    axes.set_title(title)
    axes.set_xlabel("$x_1$")
    axes.set_ylabel("$x_2$")


def plot_vector_fields(
    grids: Mapping[str, EnergyGrid],
    path: str | Path,
    *,
    curves: Mapping[str, np.ndarray] | None = None,
    stride: int = 5,
) -> Path:
    """Figure 4.6: arrows of ``r(x) - x`` on every ``stride``-th grid node, one panel each.

    Arrows show the direction and their colour the length (the field is tiny near the
    manifolds and large far away, so raw arrows would hide the structure): the manifolds
    act as sinks, and the circle's centre as a source. ``curves`` (name -> ``(K, 2)``
    points) draws each manifold.
    """
    _check_grids(grids)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}.")
    figure = Figure(figsize=(PANEL_SIZE * len(grids), PANEL_SIZE), layout="constrained")
    axes_row = np.atleast_1d(figure.subplots(1, len(grids)))
    for axes, (name, grid) in zip(axes_row, grids.items(), strict=True):
        every = slice(None, None, stride)
        grid_x, grid_y = np.meshgrid(grid.xs[every], grid.ys[every], indexing="xy")
        vectors = grid.field[every, every]
        lengths = np.linalg.norm(vectors, axis=-1)
        directions = vectors / np.maximum(lengths, 1e-12)[..., None]
        spacing = abs(grid.xs[stride] - grid.xs[0]) if len(grid.xs) > stride else 1.0
        _draw_curve(axes, curves, name, color="0.4")
        arrows = axes.quiver(
            grid_x,
            grid_y,
            directions[..., 0],
            directions[..., 1],
            lengths,
            cmap="viridis",
            angles="xy",
            scale_units="xy",
            scale=1.0 / (0.75 * spacing),
            width=0.004,
        )
        figure.colorbar(arrows, ax=axes, shrink=0.8, label="‖r(x) - x‖")
        _frame(axes, grid, f"{name}: reconstruction error r(x) - x")
    return save_figure(figure, path)


def plot_heat_maps(
    grids: Mapping[str, EnergyGrid],
    path: str | Path,
    *,
    curves: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Figure 4.7: heat maps of the potential (top) and of ``||r(x) - x||`` (bottom).

    One column per manifold, in the order of ``grids`` (the thesis puts the wave left).
    """
    _check_grids(grids)
    rows = (("potential", "potential energy Ψ"), ("error_norm", "reconstruction error ‖r(x) - x‖"))
    figure = Figure(figsize=(PANEL_SIZE * len(grids), PANEL_SIZE * len(rows)), layout="constrained")
    axes_grid = np.asarray(figure.subplots(len(rows), len(grids), squeeze=False))
    for column, (name, grid) in enumerate(grids.items()):
        extent = (grid.xs[0], grid.xs[-1], grid.ys[0], grid.ys[-1])
        for row, (attribute, label) in enumerate(rows):
            axes = axes_grid[row, column]
            image = axes.imshow(
                getattr(grid, attribute), origin="lower", extent=extent, cmap="magma"
            )
            _draw_curve(axes, curves, name)
            figure.colorbar(image, ax=axes, shrink=0.8)
            _frame(axes, grid, f"{name}: {label}")
    return save_figure(figure, path)
