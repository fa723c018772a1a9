"""Figures of the noise analyses: valid PNGs from tidy frames, clear errors otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from emma_lab.report.analysis_figures import (
    plot_bands,
    plot_histograms,
    plot_surfaces,
    plot_twin_bands,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _curves() -> pd.DataFrame:
    sigma = np.tile(np.linspace(0, 3, 4), 4)
    return pd.DataFrame(
        {
            "seed": np.repeat([0, 1], 8),
            "mode": np.tile(np.repeat(["a", "b"], 4), 2),
            "model": "with",
            "sigma": sigma,
            "value": 1 - sigma / 4,
            "energy": sigma**2,
            "spread": 0.1,
        }
    )


def test_every_figure_is_a_png(tmp_path) -> None:
    curves = _curves()
    paths = [
        plot_bands(curves, tmp_path / "b.png", x="sigma", y="value", panel="mode", line="model",
                   ylabel="f1", spread="spread", rows=2),
        plot_twin_bands(curves, tmp_path / "t.png", x="sigma", left="energy", right="value",
                        left_label="E", right_label="f1", title="t"),
        plot_surfaces(curves.assign(other=curves.sigma[::-1].to_numpy()), tmp_path / "s.png",
                      x="sigma", y="other", value="value", panel="mode", xlabel="x",
                      ylabel="y", colorbar_label="v"),
        plot_histograms(curves, tmp_path / "h.png", value="energy", group="mode", panel="model",
                        xlabel="E"),
    ]  # fmt: skip
    for path in paths:
        assert path.read_bytes().startswith(PNG)


def test_missing_columns_and_empty_frames_are_explained(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"no column\(s\) \['nope'\]"):
        plot_bands(_curves(), tmp_path / "x.png", x="sigma", y="nope", panel="mode",
                   line="model", ylabel="f1")  # fmt: skip
    with pytest.raises(ValueError, match="empty"):
        plot_twin_bands(_curves().iloc[:0], tmp_path / "x.png", x="sigma", left="energy",
                        right="value", left_label="E", right_label="f1", title="t")  # fmt: skip
    assert not (tmp_path / "x.png").exists()
