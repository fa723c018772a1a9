"""Importance and attention versus noise (figures 6.3-6.6): shapes, ranges, shift points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _analysis_samples import MODES, SEEDS, trained_seeds
from emma_lab.analyses import AttentionNoiseAnalysis, fan_out
from emma_lab.analyses.attention_noise import shift_points

SIGMAS = (0.5, 1.0, 2.0, 3.0)
SURFACE = (0.0, 1.0, 3.0)


@pytest.fixture(scope="module")
def analysis() -> AttentionNoiseAnalysis:
    collector = AttentionNoiseAnalysis(MODES, sigmas=SIGMAS, surface_sigmas=SURFACE)
    callback = fan_out([collector])
    for data, outcome in trained_seeds():
        callback(data, outcome)
    return collector


def test_curves_have_one_row_per_seed_noisy_mode_level_and_mode(analysis) -> None:
    curves = analysis.results().curves
    assert len(curves) == len(SEEDS) * len(MODES) * 5 * len(MODES)
    assert curves.attention.between(0, 1).all() and curves.importance.between(0, 1).all()
    sums = curves.groupby(["seed", "noisy_mode", "sigma"])["importance"].sum()
    assert np.allclose(sums, 1.0, atol=1e-5)


def test_noise_on_a_mode_lowers_its_importance(analysis) -> None:
    curves = analysis.results().curves
    own = curves[curves["mode"] == curves.noisy_mode].pivot_table(
        index=["seed", "noisy_mode"], columns="sigma", values="importance"
    )
    assert (own[3.0] < own[0.0]).all()


def test_surface_covers_the_grid_for_every_mode(analysis) -> None:
    surface = analysis.results().surface
    assert len(surface) == len(SEEDS) * len(SURFACE) ** 2 * len(MODES)
    assert surface.attention.between(0, 1).all()
    sums = surface.groupby(["seed", "sigma_a", "sigma_b"])["importance"].sum()
    assert np.allclose(sums, 1.0, atol=1e-5)
    # the clean corner of the surface is the clean point of the curves
    curves = analysis.results().curves
    clean_curve = curves[(curves.sigma == 0) & (curves.noisy_mode == MODES[0])]
    corner = surface[(surface.sigma_a == 0) & (surface.sigma_b == 0)]
    assert np.allclose(
        clean_curve.sort_values(["seed", "mode"]).attention,
        corner.sort_values(["seed", "mode"]).attention,
        atol=1e-6,
    )


def test_shift_point_is_the_first_level_below_the_best_other_mode() -> None:
    curves = pd.DataFrame(
        {
            "seed": 0,
            "noisy_mode": "a",
            "sigma": [0, 0, 1, 1, 2, 2],
            "mode": ["a", "b"] * 3,
            "attention": [0.6, 0.4, 0.5, 0.45, 0.3, 0.6],
        }
    )
    assert shift_points(curves).shift_sigma.tolist() == [2.0]
    never = curves.assign(attention=[0.9, 0.1] * 3)
    assert np.isnan(shift_points(never).shift_sigma.iloc[0])
    tied = curves.assign(attention=[0.5, 0.5 + 1e-7] * 3)  # equal up to float noise
    assert np.isnan(shift_points(tied).shift_sigma.iloc[0])


def test_capacity_outputs_and_markdown(analysis, tmp_path) -> None:
    result = analysis.results()
    assert len(result.capacity) == len(SEEDS) and result.capacity.capacity.between(0, 1).all()
    paths = analysis.write(tmp_path)
    for key in ("figure", "surface_figure"):
        assert paths[key].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    text = analysis.markdown("figs")
    for mode in MODES:
        assert f"| {mode} |" in text and f"{mode} σ=2" in text
    assert "figs/attention_vs_noise.png" in text and "figs/attention_surface.png" in text
