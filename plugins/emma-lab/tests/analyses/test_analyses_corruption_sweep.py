"""Corruption-kind sweeps: metric, attention and detection over one mode's levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _analysis_samples import MODES, SEEDS, trained_seeds
from emma_lab.analyses import CorruptionSweepAnalysis, standard_analyses
from emma_lab.experiments.sweeps import CorruptionSweep

SWEEPS = [
    CorruptionSweep("mean", "pixel_noise", "sigma", (0.5, 2.0, 6.0)),
    CorruptionSweep("worst", "white_noise", "snr_db", (20.0, 0.0, -20.0)),
]


@pytest.fixture(scope="module")
def analysis() -> CorruptionSweepAnalysis:
    collector = CorruptionSweepAnalysis(MODES, SWEEPS)
    for data, outcome in trained_seeds():
        collector(data, outcome)
    return collector


def test_curves_cover_every_model_sweep_and_level(analysis: CorruptionSweepAnalysis) -> None:
    result = analysis.results()
    models = {"early_fusion", "noise_augmentation", "emma"}
    assert set(result.curves["model"]) == models and result.metric == "f1"
    assert len(result.curves) == len(SEEDS) * len(models) * len(SWEEPS) * 4  # clean + 3
    assert result.curves["value"].between(0, 1).all()
    clean = result.curves[result.curves["level"].isna()]
    # The clean block is the same split for both sweeps: same score.
    pivot = clean.pivot_table(index=["seed", "model"], columns="sweep", values="value")
    assert np.allclose(pivot.iloc[:, 0], pivot.iloc[:, 1])
    assert len(result.areas) == len(SEEDS) * len(models) * len(SWEEPS)
    assert result.areas["area"].between(0, 1).all()


def test_detection_grows_with_the_level(analysis: CorruptionSweepAnalysis) -> None:
    detection = analysis.results().detection
    assert set(detection["score"]) == {"potential", "grad_norm"}
    assert detection.loc[detection["level"].isna(), "auroc"].isna().all()  # clean vs clean
    for sweep, severe in (("mean: pixel_noise sigma", 6.0), ("worst: white_noise snr_db", -20.0)):
        part = detection[(detection.sweep == sweep) & (detection.score == "potential")]
        worst = part.loc[np.isclose(part["level"], severe), "auroc"]
        assert (worst > 0.9).all(), part


def test_attention_moves_off_the_swept_mode(analysis: CorruptionSweepAnalysis) -> None:
    attention = analysis.results().attention
    assert set(attention["model"]) == {"emma"}  # only EMMA models carry a report
    assert set(attention["mode"]) == set(MODES)
    beta = attention[(attention["mode"] == "mean") & (attention.sweep == "mean: pixel_noise sigma")]
    clean = beta[beta["level"].isna()].set_index("seed")["attention"]
    severe = beta[np.isclose(beta["level"], 6.0)].set_index("seed")["attention"]
    assert (severe < clean).all()
    sums = attention.groupby(["seed", "sweep", "level"], dropna=False)["importance"].sum()
    assert np.allclose(sums, 1.0, atol=1e-4)  # alpha sums to one over the modes


def test_comparisons_and_outputs(analysis: CorruptionSweepAnalysis, tmp_path: Path) -> None:
    result = analysis.results()
    labels = [(c.a, c.b) for c in result.comparisons]
    assert labels == [("emma", "noise_augmentation")] * 2 + [("emma", "early_fusion")] * 2
    assert all("area under f1 over" in c.condition for c in result.comparisons)
    paths = analysis.write(tmp_path)
    for key in ("curves", "areas", "detection", "attention", "figure", "attention_figure"):
        assert paths[key].exists(), key
    assert len(pd.read_csv(paths["curves"])) == len(result.curves)
    text = analysis.markdown("analyses")
    assert "### worst: white_noise snr_db" in text and "snr_db=-20" in text
    assert "| potential |" in text and "](analyses/sweep_detection.png)" in text


def test_checks_its_settings() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        CorruptionSweepAnalysis(MODES, [CorruptionSweep("video", "gaussian", "sigma", (1,))])
    with pytest.raises(ValueError, match="must differ"):
        CorruptionSweepAnalysis(MODES, [SWEEPS[0], SWEEPS[0]])
    names = [a.name for a in standard_analyses(MODES, sweeps=SWEEPS)]
    assert names[-1] == "corruption_sweep" and len(standard_analyses(MODES)) == 4
