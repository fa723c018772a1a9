"""Figures of the noise analyses (thesis figures 6.1-6.10) from tidy per-seed frames.

Every function takes a pandas frame with one row per seed and point, averages over seeds
and writes a PNG atomically; none knows about models or training. A curve is the mean over
seeds, its band one standard deviation over seeds unless a ``spread`` column says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from emma_lab.report.atomic import save_figure

PANEL_WIDTH, PANEL_HEIGHT = 4.6, 3.4


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(
            f"{what}: the frame has no column(s) {absent}; it has {list(frame.columns)}."
        )
    if frame.empty:
        raise ValueError(f"{what}: the frame is empty; run the analysis on at least one seed.")


def _order(values: pd.Series, order: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(values))
    if order is None:
        return present
    return [v for v in order if v in present] + [v for v in present if v not in order]


def _panel_axes(
    frame: pd.DataFrame,
    panel: str,
    panel_order: Sequence[str] | None,
    panel_title: str,
    xlabel: str,
    rows: int = 1,
) -> tuple[Figure, list[tuple[Axes, pd.DataFrame]]]:
    """A figure with one titled axes per value of ``panel``, each with its rows of ``frame``;
    spare axes of the grid are hidden."""
    panels = _order(frame[panel], panel_order)
    columns = max(1, -(-len(panels) // rows))
    figure = Figure(figsize=(PANEL_WIDTH * columns, PANEL_HEIGHT * rows), layout="constrained")
    axes_grid = np.asarray(figure.subplots(rows, columns, squeeze=False))
    chosen = []
    for axes, name in zip(axes_grid.flat, panels, strict=False):
        axes.set_title(panel_title.format(name))
        axes.set_xlabel(xlabel)
        chosen.append((axes, frame[frame[panel] == name]))
    for axes in list(axes_grid.flat)[len(panels) :]:
        axes.set_visible(False)
    return figure, chosen


def _band(
    axes: Axes,
    part: pd.DataFrame,
    x: str,
    y: str,
    spread: str | None,
    label: str,
    color: str | None = None,
) -> None:
    stats = part.groupby(x)[y].agg(["mean", "std"]).sort_index()
    if spread is not None:
        half = part.groupby(x)[spread].mean().sort_index().to_numpy()
    else:
        half = stats["std"].fillna(0.0).to_numpy()
    xs, mean = stats.index.to_numpy(dtype=float), stats["mean"].to_numpy()
    (line,) = axes.plot(xs, mean, label=label, lw=1.5, color=color)
    axes.fill_between(xs, mean - half, mean + half, color=line.get_color(), alpha=0.2, lw=0)


def plot_bands(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    x: str,
    y: str,
    panel: str,
    line: str,
    ylabel: str,
    xlabel: str = "noise sigma",
    spread: str | None = None,
    panel_title: str = "{}",
    panel_order: Sequence[str] | None = None,
    line_order: Sequence[str] | None = None,
    ylim: tuple[float, float] | None = None,
    rows: int = 1,
) -> Path:
    """One panel per value of ``panel``, one curve per value of ``line``: mean of ``y`` over
    seeds against ``x``, with a band of one std over seeds (or the mean of ``spread``)."""
    _require(frame, [x, y, panel, line, *([spread] if spread else [])], "plot_bands")
    figure, chosen = _panel_axes(frame, panel, panel_order, panel_title, xlabel, rows)
    for axes, part in chosen:
        for label in _order(part[line], line_order):
            _band(axes, part[part[line] == label], x, y, spread, str(label))
        axes.set_ylabel(ylabel)
        if ylim is not None:
            axes.set_ylim(*ylim)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return save_figure(figure, path)


def plot_twin_bands(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    x: str,
    left: str,
    right: str,
    left_label: str,
    right_label: str,
    title: str,
    xlabel: str = "noise sigma on every mode",
) -> Path:
    """Two quantities against ``x`` on twin y axes (figure 6.7: total energy and metric)."""
    _require(frame, [x, left, right], "plot_twin_bands")
    figure = Figure(figsize=(PANEL_WIDTH * 1.3, PANEL_HEIGHT * 1.1), layout="constrained")
    axes = figure.subplots()
    twin = axes.twinx()
    _band(axes, frame, x, left, None, left_label, color="C0")
    _band(twin, frame, x, right, None, right_label, color="C1")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(left_label)
    twin.set_ylabel(right_label)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    handles = axes.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    axes.legend(handles=handles, fontsize="small", loc="center right")
    return save_figure(figure, path)


def plot_surfaces(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    x: str,
    y: str,
    value: str,
    panel: str,
    xlabel: str,
    ylabel: str,
    colorbar_label: str,
    panel_title: str = "{}",
    panel_order: Sequence[str] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Path:
    """One heat map per value of ``panel``: the mean of ``value`` over seeds on the
    ``(x, y)`` grid (figure 6.4 seen from above)."""
    _require(frame, [x, y, value, panel], "plot_surfaces")
    figure, chosen = _panel_axes(frame, panel, panel_order, panel_title, xlabel)
    for axes, part in chosen:
        grid = part.pivot_table(index=y, columns=x, values=value)
        xs, ys = grid.columns.to_numpy(dtype=float), grid.index.to_numpy(dtype=float)
        image = axes.pcolormesh(
            xs, ys, grid.to_numpy(), shading="nearest", cmap="viridis", vmin=vmin, vmax=vmax
        )
        figure.colorbar(image, ax=axes, shrink=0.85, label=colorbar_label)
        axes.set_ylabel(ylabel)
    return save_figure(figure, path)


def plot_histograms(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    value: str,
    group: str,
    panel: str,
    xlabel: str,
    panel_title: str = "{}",
    panel_order: Sequence[str] | None = None,
    bins: int = 40,
) -> Path:
    """Per panel, overlaid density histograms of ``value`` for each ``group`` (figure 6.2),
    pooled over seeds; the range is clipped to the 1st-99th percentiles of the panel."""
    _require(frame, [value, group, panel], "plot_histograms")
    figure, chosen = _panel_axes(frame, panel, panel_order, panel_title, xlabel)
    for axes, part in chosen:
        low, high = np.nanpercentile(part[value].to_numpy(dtype=float), [1, 99])
        edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
        for label in _order(part[group], None):
            values = part.loc[part[group] == label, value].to_numpy(dtype=float)
            axes.hist(values, bins=edges.tolist(), density=True, alpha=0.5, label=str(label))
        axes.set_ylabel("density")
        axes.legend(fontsize="small")
    return save_figure(figure, path)
