"""The training loop on a real EmmaModel: early stopping, constraints, frozen estimators."""

from __future__ import annotations

import pytest
import torch
from _experiment_samples import breast_cancer_spec, small_data
from emma_lab.experiments.protocol import prepare_seed

from emma_plugins.assembly.builder import build
from emma_plugins.spec import parse_spec
from emma_plugins.spec.sections import ANNEAL_FACTOR, ANNEAL_START
from emma_plugins.training.annealing import ColdnessAnnealing, compensate_initial_attention
from emma_plugins.training.loop import FitConfig, evaluate_loss, fit
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.settings import coldness_annealing, fit_config
from emma_plugins.training.stages import fit_estimators


def _setup(**attention):
    data = prepare_seed(small_data(), ["mean", "error", "worst"], seed=0, sigma=0.5)
    torch.manual_seed(0)
    model = build(breast_cancer_spec(**attention))
    loss = ClassificationLoss(data.clean["train"].y, 2)
    return data, model, loss


def test_fit_restores_the_best_validation_state_and_keeps_estimators_frozen() -> None:
    data, model, loss = _setup()
    fit_estimators(model, data.clean["train"])
    frozen = {k: v.clone() for k, v in model.attention.estimators.state_dict().items()}
    result = fit(
        model,
        data.mixed["train"],
        data.mixed["val"],
        loss,
        FitConfig(epochs=4, lr=5e-2, progress=False, lambda_c=1e-3, lambda_e=1e-2),
    )
    best = min(row["val_loss"] for row in result.history)
    assert result.best_val_loss <= best
    # the restored state is the best one: its validation loss is the recorded minimum
    assert abs(evaluate_loss(model, data.mixed["val"], loss) - result.best_val_loss) < 1e-5
    for key, value in model.attention.estimators.state_dict().items():
        torch.testing.assert_close(value, frozen[key])
    params = model.attention.stage_parameters()
    assert params  # stage parameters are reported as plain numbers
    gain = model.attention.gate.describe() if hasattr(model.attention.gate, "describe") else {}
    assert isinstance(gain, dict)


def test_fit_is_deterministic_for_a_seed() -> None:
    histories = []
    for _ in range(2):
        data, model, loss = _setup()
        fit_estimators(model, data.clean["train"])
        result = fit(
            model,
            data.mixed["train"],
            data.mixed["val"],
            loss,
            FitConfig(epochs=2, seed=3, progress=False),
        )
        histories.append(result.history)
    assert histories[0] == histories[1]


def test_annealing_cools_while_validation_improves_then_stops() -> None:
    schedule = ColdnessAnnealing(start=1e-4, factor=10.0)
    assert schedule.step(True) == 1e-3
    assert schedule.step(True) == 1e-2
    assert schedule.step(False) == 1e-2
    assert schedule.step(True) == 1e-2  # cooling stopped for good


def test_compensation_makes_a_fresh_emma_change_nothing() -> None:
    data, model, _ = _setup()
    fit_estimators(model, data.clean["train"])
    model.attention.importance.set_coldness(1e-6)  # uniform importance
    batch = data.clean["val"]
    with torch.no_grad():
        bare = model.network(batch.modes)
        compensate_initial_attention(model.network, n_modes=3)
        weighted = model(batch.modes).output
    torch.testing.assert_close(weighted, bare, rtol=1e-4, atol=1e-4)


def test_model_fit_estimators_fits_freezes_and_calibrates() -> None:
    data, model, _ = _setup()
    modes = dict(zip(["mean", "error", "worst"], data.clean["train"].modes, strict=True))
    assert model.fit_estimators(modes, progress=False) is model
    for estimator in model.attention.estimators:
        assert estimator.is_fitted
        assert not any(p.requires_grad for p in estimator.parameters())
    report = model(modes).report
    assert torch.isfinite(report.total_energy).all()


def test_fit_estimators_needs_attention() -> None:
    torch.manual_seed(0)
    bare = build({**breast_cancer_spec(), "attention": {"enabled": False}})
    data = prepare_seed(small_data(), ["mean", "error", "worst"], seed=0, sigma=0.5)
    try:
        bare.fit_estimators(data.clean["train"].modes)
    except ValueError as exc:
        assert "attention disabled" in str(exc)
    else:
        raise AssertionError("fit_estimators on a bare network must fail")


@pytest.mark.parametrize("apply_to", ["inputs", "encodings"])
def test_compensation_covers_encoder_fusion_on_inputs_and_encodings(apply_to: str) -> None:
    data = prepare_seed(small_data(), ["mean", "error", "worst"], seed=0, sigma=0.5)
    torch.manual_seed(0)
    spec = breast_cancer_spec(apply_to=apply_to)
    spec["network"] = {"kind": "encoder_fusion", "encoder": [6], "head": [4]}
    model = build(spec)
    fit_estimators(model, data.clean["train"])
    model.attention.importance.set_coldness(1e-6)
    batch = data.clean["val"]
    with torch.no_grad():
        bare = model.network(batch.modes)
        compensate_initial_attention(model.network, n_modes=3, apply_to=apply_to)
        weighted = model(batch.modes).output
    torch.testing.assert_close(weighted, bare, rtol=1e-4, atol=1e-4)


def test_compensation_for_encodings_needs_the_network_to_name_its_layers() -> None:
    with pytest.raises(ValueError, match="input_layers"):
        compensate_initial_attention(torch.nn.Sequential(torch.nn.Linear(2, 1)), 2, "encodings")


@pytest.mark.parametrize("anneal", [{}, {"start": 1e-3, "factor": 10.0}])
def test_the_specs_anneal_section_drives_the_reported_rho(anneal: dict[str, float]) -> None:
    """``anneal: {}`` anneals with the defaults; given ``start`` and ``factor`` are used; the
    reported rho multiplies by ``factor`` after each improving epoch until the first that
    does not improve, then stays."""
    spec = parse_spec({**breast_cancer_spec(), "training": {"anneal": anneal, "epochs": 5}})
    training = spec.resolved_training
    data, model, loss = _setup()
    fit_estimators(model, data.clean["train"])
    config = fit_config(training, seed=0, epochs=training.epochs)
    config.annealing = coldness_annealing(training)
    model.attention.importance.set_coldness(config.annealing.rho)
    initial = evaluate_loss(model, data.mixed["val"], loss)  # what epoch 1 must improve on
    result = fit(model, data.mixed["train"], data.mixed["val"], loss, config)
    start = anneal.get("start", ANNEAL_START)
    factor = anneal.get("factor", ANNEAL_FACTOR)
    expected, best, cooling = start, initial, True
    for row in result.history:
        assert row["rho"] == pytest.approx(expected)
        improved = row["val_loss"] < best
        best = min(best, row["val_loss"])
        cooling = cooling and improved
        if cooling:
            expected = min(expected * factor, 10.0)
    assert len({row["rho"] for row in result.history}) > 1  # it did cool
