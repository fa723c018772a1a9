"""Robustness generalisation (figures 6.8-6.10): curves, areas, paired verdicts."""

from __future__ import annotations

import pandas as pd
import pytest
from _analysis_samples import MODES, SEEDS, trained_seeds
from emma_lab.analyses import RobustnessAnalysis
from emma_lab.analyses.robustness import curve_areas
from emma_lab.experiments.protocol import score

SIGMAS = (0.5, 1.0, 2.0, 3.0)
MODELS = ("early_fusion", "noise_augmentation", "emma")


@pytest.fixture(scope="module")
def analysis() -> RobustnessAnalysis:
    collector = RobustnessAnalysis(MODES, sigmas=SIGMAS)
    for data, outcome in trained_seeds():
        collector(data, outcome)
    return collector


def test_curves_and_areas_have_the_right_shape_and_range(analysis) -> None:
    result = analysis.results()
    assert len(result.curves) == len(SEEDS) * len(MODELS) * len(MODES) * 5
    assert set(result.curves.model) == set(MODELS)
    assert result.curves.value.between(0, 1).all()
    assert len(result.areas) == len(SEEDS) * len(MODELS) * len(MODES)
    assert result.areas.area.between(0, 1).all()


def test_clean_point_is_each_models_protocol_score(analysis) -> None:
    curves = analysis.results().curves
    for data, outcome in trained_seeds():
        for model in MODELS:
            clean = curves[
                (curves.seed == data.seed) & (curves.model == model) & (curves.sigma == 0)
            ]
            expected = score(outcome.models[model], data.clean["test"], outcome.thresholds[model])
            assert clean.value.to_numpy() == pytest.approx([expected] * len(MODES))


def test_comparisons_cover_with_against_both_baselines_on_every_mode(analysis) -> None:
    comparisons = analysis.results().comparisons
    assert [(c.a, c.b) for c in comparisons] == [("emma", "noise_augmentation")] * 3 + [
        ("emma", "early_fusion")
    ] * 3
    assert all(c.n == len(SEEDS) for c in comparisons)
    assert [m in c.condition for c, m in zip(comparisons, MODES * 2, strict=True)] == [True] * 6


def test_areas_are_hand_checkable() -> None:
    curves = pd.DataFrame(
        {
            "seed": 0,
            "model": ["flat"] * 3 + ["falling"] * 3,
            "mode": "a",
            "sigma": [0.0, 1.5, 3.0] * 2,
            "value": [0.8, 0.8, 0.8, 1.0, 0.5, 0.0],
        }
    )
    areas = curve_areas(curves).set_index("model").area
    assert areas["flat"] == pytest.approx(0.8) and areas["falling"] == pytest.approx(0.5)


def test_outputs_and_markdown(analysis, tmp_path) -> None:
    paths = analysis.write(tmp_path)
    assert paths["figure"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert len(pd.read_csv(paths["areas"])) == len(analysis.results().areas)
    text = analysis.markdown("figs")
    for mode in MODES:
        assert f"| {mode} " in text or f" {mode} |" in text
    for comparison in analysis.results().comparisons:
        assert comparison.sentence() in text
    assert "figs/robustness.png" in text


def test_unknown_model_is_named() -> None:
    data, outcome = trained_seeds()[0]
    with pytest.raises(KeyError, match="nope"):
        RobustnessAnalysis(MODES, models=["emma", "nope"])(data, outcome)
