"""The ``standardized`` correction: ``Psi' = e + max(0, (Psi - q_tau) / s)``, calibrated on
the estimators' training distribution (`CalibratedByDistribution`), and what it needs around
it: the module's calibration protocol, old state dicts and checkpoints, the spec, training
and export."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from _deploy_samples import small_spec
from torch import Tensor, nn

from emma_plugins import EmmaModel, build, parse_spec
from emma_plugins.assembly import checkpoint
from emma_plugins.attention import build_attention
from emma_plugins.attention.correction import MinShift, StandardizedShift
from emma_plugins.core.contracts import QUANTILE_LEVELS, ScoreDistribution
from emma_plugins.core.errors import NotFittedError, SpecError
from emma_plugins.estimators import EnergyEstimator
from emma_plugins.testing import check_correction, check_registered_correction

E = math.e


class FirstFeature(EnergyEstimator):
    """``potential(x) = x[:, 0]``; calibrated like any estimator (`calibrate(x)`)."""

    def potential(self, x: Tensor) -> Tensor:
        return x.flatten(1)[:, 0]


def _training(n: int = 400, seed: int = 0) -> list[Tensor]:
    """Two modes whose potentials have very different locations and spreads."""
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(n, 3, generator=g) * 0.05 + 5.3,  # narrow, like the measured DAE potentials
        torch.randn(n, 3, generator=g) * 2.0 - 1.0,
    ]


def _estimators(training: list[Tensor]) -> list[FirstFeature]:
    return [FirstFeature().calibrate(x) for x in training]


def _attention(dead_zone: float, modal_energy: str = "self_only", rho: float = 1.0) -> nn.Module:
    stages = {
        "correction": {"kind": "standardized", "dead_zone": dead_zone},
        "modal_energy": {"kind": modal_energy},
        "importance": {"kind": "boltzmann", "rho": rho},
        "gate": {"kind": "identity"},
    }
    return build_attention(_estimators(_training()), [(3,), (3,)], stages)


def _grid(low: float, high: float) -> Tensor:
    return torch.linspace(low, high, QUANTILE_LEVELS)


# -- the formula --------------------------------------------------------------------------------
def test_the_formula_on_a_hand_built_distribution() -> None:
    quantiles = torch.stack([_grid(0.0, 100.0), _grid(-1.0, 1.0)])  # q_tau = 100 tau, 2 tau - 1
    distribution = ScoreDistribution(
        minimum=quantiles[:, 0], quantiles=quantiles, std=torch.tensor([10.0, 0.5])
    )
    scores = torch.tensor([[-5.0, -2.0], [0.0, -1.0], [25.0, 0.0], [130.0, 3.0]])
    for tau in (0.0, 0.25, 0.5):
        stage = StandardizedShift(2, dead_zone=tau)
        stage.calibrate_distribution(distribution)
        center = torch.tensor([100.0 * tau, 2.0 * tau - 1.0])
        torch.testing.assert_close(stage.center, center)
        expected = E + torch.clamp_min((scores - center) / torch.tensor([10.0, 0.5]), 0.0)
        torch.testing.assert_close(stage(scores), expected, rtol=0, atol=1e-6)
    stage = StandardizedShift(2)  # dead_zone 0: the min_shift in units of the spread
    stage.calibrate_distribution(distribution)
    shift = MinShift(2)
    shift.calibrate(distribution.minimum)
    std = distribution.std
    torch.testing.assert_close(stage(scores), E + (shift(scores) - E) / std)
    assert stage.describe() == {"dead_zone": 0.0, "center": [0.0, -1.0], "scale": [10.0, 0.5]}
    json.dumps(stage.describe())


def test_center_and_scale_are_the_training_quantile_and_std_of_the_estimators() -> None:
    training = _training()
    attention = _attention(dead_zone=0.9)
    for i, x in enumerate(training):
        potentials = x[:, 0].double().numpy()
        assert float(attention.correction.center[i]) == pytest.approx(
            np.quantile(potentials, 0.9), abs=1e-5
        )
        assert float(attention.correction.scale[i]) == pytest.approx(np.std(potentials), abs=1e-5)


def test_a_constant_training_score_gets_unit_scale() -> None:
    quantiles = torch.stack([torch.full((QUANTILE_LEVELS,), 7.0), _grid(0.0, 1.0)])
    distribution = ScoreDistribution(quantiles[:, 0], quantiles, torch.tensor([0.0, 1e-9]))
    stage = StandardizedShift(2)
    stage.calibrate_distribution(distribution)
    assert stage.scale.tolist() == [1.0, 1.0]  # no spread to measure in
    out = stage(torch.tensor([[9.0, 0.5], [1e6, 1e6]]))
    assert out[0].tolist() == pytest.approx([E + 2.0, E + 0.5]) and bool(out.isfinite().all())


def test_bad_parameters_and_distributions_are_refused() -> None:
    for tau in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"dead_zone must lie in \[0, 1\)"):
            StandardizedShift(2, dead_zone=tau)
    quantiles = torch.zeros(3, QUANTILE_LEVELS)
    with pytest.raises(ValueError, match="expected the distribution of 2 modes"):
        StandardizedShift(2).calibrate_distribution(
            ScoreDistribution(quantiles[:, 0], quantiles, torch.ones(3))
        )


# -- the dead zone ------------------------------------------------------------------------------
def test_with_a_dead_zone_clean_samples_get_exactly_uniform_importance() -> None:
    attention = _attention(dead_zone=0.99)
    clean = _training(seed=1)  # new draws from the training distributions
    inside = torch.stack([x[:, 0] for x in clean], dim=1) <= attention.correction.center
    rows = inside.all(dim=1)
    assert int(rows.sum()) > 350
    modes = [x[rows] for x in clean]
    report = attention.evaluate(modes)
    assert torch.equal(report.potential, torch.full_like(report.potential, E))
    assert torch.equal(report.importance, torch.full_like(report.importance, 0.5))

    # min_shift, by contrast, moves the importance on the same clean samples
    stages = {"modal_energy": {"kind": "self_only"}, "gate": {"kind": "identity"}}
    thesis = build_attention(_estimators(_training()), [(3,), (3,)], stages)
    assert float(thesis.evaluate(modes).importance.detach().std()) > 1e-3


def test_with_a_dead_zone_a_shifted_mode_loses_importance() -> None:
    attention = _attention(dead_zone=0.99)
    clean = [x[:64].clone() for x in _training(seed=2)]
    clean[0][:, 0] = 5.3  # typical for both modes
    clean[1][:, 0] = -1.0
    shifted = [x.clone() for x in clean]
    shifted[0][:, 0] += torch.linspace(0.5, 2.0, 64)  # 10-40 training spreads above
    before, after = attention.evaluate(clean), attention.evaluate(shifted)
    assert torch.equal(before.importance, torch.full_like(before.importance, 0.5))
    assert bool((after.importance[:, 0] < 0.01).all()) and bool(
        (after.importance[:, 1] > 0.99).all()
    )
    assert bool((after.importance[1:, 0] < after.importance[:-1, 0]).all())  # monotone in shift


def test_with_coupling_in_distribution_samples_all_get_the_same_importance() -> None:
    attention = _attention(dead_zone=0.99, modal_energy="coupled")
    clean = [x[:64].clone() for x in _training(seed=3)]
    clean[0][:, 0], clean[1][:, 0] = 5.25, -2.0
    importance = attention.evaluate(clean).importance
    assert torch.equal(importance, importance[:1].expand_as(importance))  # attention never moves


# -- the module's calibration protocol ----------------------------------------------------------
class BothWays(nn.Module):
    """A correction with both protocols: the module hands it the distribution."""

    def __init__(self, n_modes: int) -> None:
        super().__init__()
        self.calls: list[str] = []

    def calibrate(self, minima: Tensor) -> None:
        self.calls.append("minima")

    def calibrate_distribution(self, distribution: ScoreDistribution) -> None:
        self.calls.append(f"distribution {tuple(distribution.quantiles.shape)}")

    def forward(self, scores: Tensor) -> Tensor:
        return scores.clamp_min(E)


class MinimaOnly(nn.Module):
    def __init__(self, n_modes: int) -> None:
        super().__init__()
        self.minima: Tensor | None = None

    def calibrate(self, minima: Tensor) -> None:
        self.minima = minima.clone()

    def forward(self, scores: Tensor) -> Tensor:
        return scores.clamp_min(E)


def _module_with(correction: nn.Module, estimators: list[nn.Module]) -> nn.Module:
    from emma_plugins.attention import EnergyAttention
    from emma_plugins.attention.gate import IdentityGate
    from emma_plugins.attention.importance import Boltzmann
    from emma_plugins.attention.modal_energy import SelfEnergy

    return EnergyAttention(estimators, correction, SelfEnergy(2), Boltzmann(2), IdentityGate(2))


def test_the_module_hands_the_distribution_first_and_the_minima_otherwise() -> None:
    both = BothWays(2)
    _module_with(both, _estimators(_training()))
    assert both.calls == ["distribution (2, 101)"]
    only = MinimaOnly(2)
    estimators = _estimators(_training())
    _module_with(only, estimators)
    assert only.minima is not None
    torch.testing.assert_close(only.minima, torch.stack([e.potential_min for e in estimators]))


class MinimumOnlyEstimator(nn.Module):
    """A third-party estimator that is not an `EnergyEstimator`: it records only minima."""

    score_names = ("potential", "grad_norm")

    def potential(self, x: Tensor) -> Tensor:
        return x[:, 0]

    def scores(self, x: Tensor) -> dict[str, Tensor]:
        return {"potential": x[:, 0], "grad_norm": torch.ones(len(x))}

    def score_min(self, name: str) -> Tensor:
        return torch.tensor(0.0)

    def fit(self, data: object, progress: bool = True) -> MinimumOnlyEstimator:
        return self


def test_an_estimator_without_quantiles_is_refused_by_name() -> None:
    estimators = [MinimumOnlyEstimator(), MinimumOnlyEstimator()]
    with pytest.raises(TypeError, match="records only its minimum: implement score_quantiles"):
        _module_with(StandardizedShift(2), estimators)
    _module_with(MinShift(2), estimators)  # min_shift needs only the minima


# -- old state dicts and checkpoints ------------------------------------------------------------
def _old(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """``state`` as saved before the quantile and std buffers existed."""
    return {k: v for k, v in state.items() if not k.endswith(("_quantiles", "_std"))}


def test_old_estimator_state_loads_and_the_stage_then_asks_to_recalibrate() -> None:
    training = _training()
    attention = _attention(dead_zone=0.99)
    old = _old(attention.estimators.state_dict())
    fresh = [FirstFeature(), FirstFeature()]
    stages = {"correction": {"kind": "standardized", "dead_zone": 0.99}}
    rebuilt = build_attention(fresh, [(3,), (3,)], stages)  # unfitted: calibrated on first use
    rebuilt.estimators.load_state_dict(old)  # strict: loads
    message = r"Recalibrate it .*estimator\.calibrate\(clean_training_rows\)"
    with pytest.raises(NotFittedError, match=message):
        rebuilt.calibrate_()
    with pytest.raises(NotFittedError, match=message):
        rebuilt.evaluate([x[:4] for x in training])
    for estimator, x in zip(fresh, training, strict=True):
        estimator.calibrate(x)  # what the message asks for
    rebuilt.calibrate_()
    torch.testing.assert_close(rebuilt.correction.center, attention.correction.center)
    torch.testing.assert_close(rebuilt.correction.scale, attention.correction.scale)

    shift = build_attention([FirstFeature(), FirstFeature()], [(3,), (3,)])  # min_shift
    shift.estimators.load_state_dict(old)
    shift.calibrate_()  # needs only the minima, which old state has
    minima = torch.stack([x[:, 0].min() for x in training])
    torch.testing.assert_close(shift.correction.minimum, minima)


def _rewrite_without_new_buffers(directory: Path) -> None:
    """Make ``directory`` an old checkpoint: weights without the quantile and std buffers."""
    from safetensors.torch import load, save

    weights = directory / checkpoint.WEIGHTS_FILE
    tensors = load(weights.read_bytes())
    old = save(_old(tensors), metadata={"format": checkpoint.FORMAT, "version": "1"})
    weights.write_bytes(old)
    manifest_path = directory / checkpoint.MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["weights"] |= {"sha256": hashlib.sha256(old).hexdigest(), "bytes": len(old)}
    manifest_path.write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def bc_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[EmmaModel, Path]:
    """The deploy tests' small breast-cancer model with the standardized correction and a
    learnable coldness, trained for a few epochs (about two seconds)."""
    from emma_plugins.deploy import fit_model

    spec = small_spec(epochs=2, base_epochs=2)
    spec["attention"] = {
        "correction": {"kind": "standardized", "dead_zone": 0.99},
        "importance": {"kind": "boltzmann", "rho": 1.0, "learnable": True},
    }
    outcome = fit_model(parse_spec(spec), out=tmp_path_factory.mktemp("bc") / "model")
    assert outcome.directory is not None
    return outcome.model, outcome.directory


def test_the_spec_builds_and_trains(bc_model: tuple[EmmaModel, Path]) -> None:
    model, _ = bc_model
    attention = model.attention
    assert attention is not None
    assert isinstance(attention.correction, StandardizedShift)
    assert attention.correction.dead_zone == 0.99
    assert bool(attention.correction.center.isfinite().all())
    assert bool((attention.correction.scale > 0).all())
    log_rho = attention.importance.log_rho
    assert isinstance(log_rho, nn.Parameter) and float(log_rho.detach()) != 0.0  # learned from 1
    assert attention.stage_parameters()["correction"]["dead_zone"] == 0.99


def test_an_old_min_shift_checkpoint_loads_and_predicts_as_before(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build(parse_spec(small_spec())).eval()  # the default min_shift correction
    g = torch.Generator().manual_seed(1)
    xs = [torch.randn(60, 10, generator=g) for _ in range(3)]
    model.fit_estimators(xs, progress=False)
    checkpoint.save(model, tmp_path / "old")
    _rewrite_without_new_buffers(tmp_path / "old")
    loaded = checkpoint.load(tmp_path / "old")  # strict load, weights of an older version
    assert loaded.attention is not None
    assert bool(loaded.attention.estimators[0].potential_quantiles.isnan().all())
    with torch.no_grad():
        torch.testing.assert_close(loaded(xs).output, model(xs).output, rtol=0, atol=0)


def test_an_old_checkpoint_with_the_standardized_stage_asks_to_recalibrate(
    bc_model: tuple[EmmaModel, Path], tmp_path: Path
) -> None:
    model, _ = bc_model
    old = tmp_path / "old"
    checkpoint.save(model, old)
    _rewrite_without_new_buffers(old)
    loaded = EmmaModel.from_pretrained(old)  # loads (strict); the stage calibrates on first use
    assert loaded.attention is not None
    g = torch.Generator().manual_seed(2)
    xs = [torch.randn(40, 10, generator=g) for _ in range(3)]
    message = r"Recalibrate it .*estimator\.calibrate\(clean_training_rows\)"
    with pytest.raises(NotFittedError, match=message):
        loaded(xs)
    for estimator, x in zip(loaded.attention.estimators, xs, strict=True):
        estimator.calibrate(x)
    loaded.attention.calibrate_()
    assert bool(loaded(xs).output.isfinite().all())


def test_the_onnx_export_matches_eager(bc_model: tuple[EmmaModel, Path], tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    import onnxruntime

    from emma_plugins.deploy import RawInputModel
    from emma_plugins.deploy.export import export_onnx

    model, directory = bc_model
    path = export_onnx(directory, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    raw = RawInputModel(EmmaModel.from_pretrained(directory)).eval()
    assert model.deployment is not None
    rng = np.random.default_rng(0)
    modes = []
    for name in ("mean", "error", "worst"):
        info = model.deployment.modes[name]
        noise = rng.standard_normal((7, len(info.columns))) * (1 + 4 * (name == "error"))
        modes.append((np.array(info.mean) + np.array(info.std) * noise).astype(np.float32))
    missing = np.zeros((7, 3), dtype=bool)
    feed = dict(zip(("mean", "error", "worst"), modes, strict=True)) | {"missing": missing}
    got = session.run(None, feed)
    with torch.no_grad():
        expected = raw([torch.from_numpy(x) for x in modes], torch.from_numpy(missing))
    for a, b in zip(got, expected, strict=True):
        b = b.numpy()
        if b.dtype == np.bool_:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_bad_dead_zones_are_spec_errors() -> None:
    spec = small_spec()
    for tau in (1.0, -0.5):
        spec["attention"] = {"correction": {"kind": "standardized", "dead_zone": tau}}
        with pytest.raises(SpecError, match="dead_zone"):
            parse_spec(spec)


# -- the conformance kit ------------------------------------------------------------------------
def test_the_correction_kit_passes_with_a_dead_zone() -> None:
    check_registered_correction("standardized", {"dead_zone": 0.99})
    check_correction(StandardizedShift(4, dead_zone=0.5))
