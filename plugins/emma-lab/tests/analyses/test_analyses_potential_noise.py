"""Potential versus noise (figures 6.1-6.2): trends, AUROC ranges, the out-of-distribution check."""

from __future__ import annotations

import numpy as np
import pytest
from _analysis_samples import MODES, fitted_estimators
from emma_lab.analyses import PotentialNoiseAnalysis, spec_estimator_factory
from emma_lab.experiments.comparison import SeedOutcome

SIGMAS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def analysis() -> PotentialNoiseAnalysis:
    collector = PotentialNoiseAnalysis(MODES, sigmas=SIGMAS, detect_sigmas=(0.5, 2.0))
    collector(*fitted_estimators())
    return collector


def test_potential_grows_with_noise_on_its_own_mode(analysis) -> None:
    curves = analysis.results().curves
    assert len(curves) == len(MODES) * 2 * 7  # modes x scores x levels (0 added)
    for mode in MODES:
        for score in ("potential", "grad_norm"):
            part = curves[(curves["mode"] == mode) & (curves.score == score)].sort_values("sigma")
            assert np.all(np.diff(part["mean"].to_numpy()) > 0), (mode, score)
            assert (part["std"] >= 0).all()


def test_noisy_copies_are_detected_better_at_higher_noise(analysis) -> None:
    detection = analysis.results().detection
    assert detection.auroc.between(0, 1).all()
    assert len(detection) == len(MODES) * 2 * 2
    wide = detection.pivot_table(index=["mode", "score"], columns="sigma", values="auroc")
    assert (wide[2.0] > wide[0.5]).all()
    assert (wide[2.0] > 0.8).all()


def test_out_of_distribution_check_trains_on_one_class(analysis) -> None:
    result = analysis.results()
    assert len(result.ood) == len(MODES) * 2
    assert result.ood.auroc.between(0, 1).all()
    groups = set(result.ood_samples.group)
    assert groups == {"class 1 (trained on)", "other classes"}
    data, _ = fitted_estimators()
    assert len(result.ood_samples) == len(MODES) * len(data.clean["test"])


def test_spec_factory_builds_fresh_seeded_estimators() -> None:
    _, outcome = fitted_estimators()
    make = spec_estimator_factory(outcome.models["emma"].spec)
    first, again, other = make("mean", 3), make("mean", 3), make("mean", 4)
    assert not first.is_fitted
    assert np.allclose(first.weight.detach(), again.weight.detach())
    assert not np.allclose(first.weight.detach(), other.weight.detach())
    with pytest.raises(KeyError, match="no mode 'nope'"):
        make("nope", 0)


def test_outputs_and_markdown(analysis, tmp_path) -> None:
    paths = analysis.write(tmp_path)
    assert {"curves", "detection", "figure", "ood", "ood_figure"} <= set(paths)
    assert paths["figure"].read_bytes().startswith(PNG)
    assert paths["ood_figure"].read_bytes().startswith(PNG)
    text = analysis.markdown("figs")
    for mode in MODES:
        assert f"| {mode} |" in text
    assert "figs/potential_vs_noise.png" in text and "figs/potential_ood.png" in text
    assert "potential σ=0.5" in text and "grad_norm σ=2" in text


def test_models_without_attention_are_refused() -> None:
    data, outcome = fitted_estimators()
    bare = SeedOutcome([], [], {"emma": outcome.models["emma"].network}, {"emma": 0.5})
    with pytest.raises(ValueError, match="no attention module"):
        PotentialNoiseAnalysis(MODES)(data, bare)
    with pytest.raises(ValueError, match="detect_sigmas"):
        PotentialNoiseAnalysis(MODES, detect_sigmas=(0.0,))
