"""Figures are written atomically, like every other file of a report."""

from __future__ import annotations

from pathlib import Path

from emma_lab.report.atomic import save_figure
from matplotlib.figure import Figure


def test_save_figure_writes_a_png(tmp_path: Path) -> None:
    figure = Figure(figsize=(2, 1))
    figure.subplots().plot([0, 1], [1, 0])
    path = save_figure(figure, tmp_path / "line.png", dpi=50)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
