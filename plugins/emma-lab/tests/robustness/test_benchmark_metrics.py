"""Benchmark metrics: who has quality and uncertainty, detection semantics, curve areas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _benchmark_samples import synthetic_scores
from _experiment_samples import breast_cancer_spec, small_data
from emma_lab.experiments.protocol import prepare_seed
from emma_lab.metrics.robustness import area_under_curve, effective_robustness
from emma_lab.robustness.metrics import (
    MethodOutputs,
    condition_row,
    detection_auroc,
    method_outputs,
    robustness_frame,
)
from emma_lab.robustness.protocol import Condition

from emma_plugins import build

MODES = ["mean", "error", "worst"]


@pytest.fixture(scope="module")
def test_split():
    return prepare_seed(small_data(), MODES, seed=0, sigma=0.5).clean["test"]


def _model(network: dict | None, attention: bool):
    spec = breast_cancer_spec()
    if network is not None:
        spec["network"] = network
    if not attention:
        spec["attention"] = {"enabled": False}
    torch.manual_seed(0)
    return build(spec)


def test_emma_quality_is_the_negative_modal_energy_and_its_uncertainty_the_total(
    test_split,
) -> None:
    model = _model(None, attention=True)
    model.fit_estimators(test_split.modes, progress=False)
    out = method_outputs(model, test_split, batch_size=7)  # several batches
    report = model(test_split.modes).report
    assert out.scores.shape == (len(test_split),)
    np.testing.assert_allclose(out.quality, -report.modal_energy.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(out.uncertainty, report.total_energy.detach().numpy(), rtol=1e-5)


@pytest.mark.parametrize(
    ("network", "has_quality", "has_uncertainty"),
    [
        ({"kind": "mlp", "hidden": [4]}, False, False),
        ({"kind": "qmf", "hidden": [4]}, True, False),
        ({"kind": "tmc", "hidden": [4]}, True, True),
    ],
)
def test_peers_offer_what_their_interfaces_offer(
    test_split, network: dict, has_quality: bool, has_uncertainty: bool
) -> None:
    out = method_outputs(_model(network, attention=False), test_split)
    assert (out.quality is not None) == has_quality
    assert (out.uncertainty is not None) == has_uncertainty
    if out.quality is not None:
        assert out.quality.shape == (len(test_split), 3)


def test_detection_compares_each_corrupted_mode_with_the_same_clean_mode() -> None:
    n = 50
    clean = MethodOutputs(np.full(n, 0.5), np.zeros((n, 2)), None)
    # mode 1 is corrupted and its quality drops; mode 0 is much lower everywhere, which a
    # pooled comparison across modes would mistake for corruption
    quality = np.stack([np.full(n, -5.0), np.full(n, -1.0)], axis=1)
    noisy = MethodOutputs(np.full(n, 0.5), quality, None)
    corrupted = np.zeros((n, 2), dtype=bool)
    corrupted[:, 1] = True
    assert detection_auroc(clean, noisy, corrupted) == 1.0
    assert np.isnan(detection_auroc(clean, noisy, np.zeros((n, 2), dtype=bool)))
    assert np.isnan(detection_auroc(MethodOutputs(clean.scores, None, None), noisy, corrupted))


def test_condition_row_is_in_range_and_skips_detection_for_missing_modes(test_split) -> None:
    out = method_outputs(_model({"kind": "tmc", "hidden": [4]}, attention=False), test_split)
    for family in ("noise", "missing"):
        row = condition_row(out, out, Condition("c", family, "mean", 1.0, test_split), 0.5)
        assert 0 <= row["score"] <= 1 and 0 <= row["ece"] <= 1
        assert 0 <= row["error_auroc"] <= 1
        assert np.isnan(row["detection_auroc"])  # nothing corrupted here / mask known


def test_robustness_frame_uses_the_evaluation_formulas() -> None:
    levels = [0.0, 1.0, 3.0]
    conditions = ["clean", "noise:a@1", "noise:a@3"]
    scores = synthetic_scores(["x", "late_fusion"], conditions, seeds=2)
    frame = robustness_frame(scores, ["a"], levels, "late_fusion")
    wide = scores.pivot_table(index=["seed", "method"], columns="condition", values="score")
    x = wide.loc[(1, "x"), conditions].to_numpy()
    ref = wide.loc[(1, "late_fusion"), conditions].to_numpy()
    row = frame[(frame.seed == 1) & (frame.method == "x")].iloc[0]
    assert row["area"] == pytest.approx(area_under_curve(levels, x))
    assert row["effective_robustness"] == pytest.approx(effective_robustness(levels, x, ref))
    assert (frame[frame.method == "late_fusion"]["effective_robustness"] == 0).all()
    assert robustness_frame(scores, ["a"], levels, None)["effective_robustness"].isna().all()
