"""`EnergyAttention`: missing modes, batch independence, state and devices, compile."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch
from _attention_fakes import GivenPotential, given_attention, modes_from_potentials
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins import TiedDAE
from emma_plugins.attention import EnergyAttention, build_attention
from emma_plugins.core.errors import EstimatorError, NotFittedError

SHAPES = [(4,), (2, 3), (5,)]


def _fitted_daes(seed: int = 0) -> tuple[list[TiedDAE], list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    data = [torch.randn(128, *shape, generator=generator) for shape in SHAPES]
    estimators = [TiedDAE(shape, hidden=5, epochs=2, seed=i) for i, shape in enumerate(SHAPES)]
    for estimator, x in zip(estimators, data, strict=True):
        estimator.fit(x, progress=False)
    return estimators, data


def _perturbed(attention: EnergyAttention, seed: int = 1) -> EnergyAttention:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in attention.parameters():
            if parameter.requires_grad:
                parameter.add_(0.1 * torch.rand(parameter.shape, generator=generator))
    attention.constrain_()
    return attention


@pytest.fixture(scope="module")
def daes() -> tuple[list[TiedDAE], list[torch.Tensor]]:
    return _fitted_daes()


def test_estimators_are_frozen_and_stay_in_eval_mode(daes) -> None:
    estimators, _ = daes
    attention = build_attention(estimators, SHAPES)
    attention.train()
    assert all(not est.training for est in attention.estimators)
    assert all(not p.requires_grad for p in attention.estimators.parameters())
    assert attention.training and attention.gate.training


def test_missing_modes_are_ignored_and_output_exactly_zero(daes) -> None:
    estimators, data = daes
    attention = _perturbed(build_attention(estimators, SHAPES))
    modes = [x[:6].clone() for x in data]
    missing = torch.zeros(6, 3, dtype=torch.bool)
    missing[1, 0] = missing[2, 1] = True
    missing[3] = True
    modes[0][1] = float("nan")
    modes[1][2] = float("inf")
    modes[0][3], modes[1][3], modes[2][3] = float("nan"), -float("inf"), 1e30
    outputs, report = attention(modes, missing)
    for i, out in enumerate(outputs):
        assert torch.isfinite(out).all()
        assert (out[missing[:, i]] == 0).all() and not torch.signbit(out[missing[:, i]]).any()
    assert (report.attention[3] == 0).all() and (report.importance[3] == 0).all()
    assert float(report.importance[1].sum().detach()) == pytest.approx(1.0)
    # The present modes of sample 1 do not see mode 0, whatever mode 0 holds.
    alone = attention.evaluate(
        [x[1:2] for x in modes][1:] and [m[1:2] for m in modes], missing[1:2]
    )
    assert torch.allclose(alone.importance, report.importance[1:2])


def test_report_does_not_depend_on_the_batch(daes) -> None:
    estimators, data = daes
    attention = _perturbed(build_attention(estimators, SHAPES))
    modes = [x[:10] for x in data]
    missing = torch.rand(10, 3, generator=torch.Generator().manual_seed(0)) > 0.7
    full_out, full = attention(modes, missing)
    for start in range(0, 10, 3):
        part = slice(start, start + 3)
        out, report = attention([x[part] for x in modes], missing[part])
        assert torch.allclose(report.attention, full.attention[part], atol=1e-6)
        assert torch.allclose(report.total_energy, full.total_energy[part], rtol=1e-6)
        for a, b in zip(out, full_out, strict=True):
            assert torch.allclose(a, b[part], atol=1e-6)


def test_state_dict_round_trip(daes) -> None:
    estimators, data = daes
    stages = {"endogenous": {"kind": "sigmoid_mask"}, "cross_modal": {"kind": "mha"}}
    source = _perturbed(build_attention(estimators, SHAPES, stages))
    source.importance.set_coldness(0.25)
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    fresh = [TiedDAE(shape, hidden=5, epochs=2, seed=9) for shape in SHAPES]
    target = build_attention(fresh, SHAPES, stages)
    target.load_state_dict(torch.load(buffer, weights_only=True))
    modes = [x[:8] for x in data]
    expected, expected_report = source(modes)
    got, got_report = target(modes)
    assert target.importance.coldness == pytest.approx(0.25)
    assert torch.equal(got_report.attention, expected_report.attention)
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))


def test_to_moves_every_parameter_and_buffer(daes) -> None:
    estimators, data = daes
    stages = {"endogenous": {"kind": "sigmoid_mask"}, "cross_modal": {"kind": "mha"}}
    attention = build_attention(copy.deepcopy(estimators), SHAPES, stages).to(torch.float64)
    tensors = dict(attention.named_parameters()) | dict(attention.named_buffers())
    assert all(t.dtype == torch.float64 for t in tensors.values()), [
        name for name, t in tensors.items() if t.dtype != torch.float64
    ]
    outputs, report = attention([x[:4].double() for x in data])
    assert report.attention.dtype == torch.float64
    assert all(out.dtype == torch.float64 for out in outputs)


def test_unfitted_estimators_raise_a_clear_error() -> None:
    attention = build_attention([TiedDAE(3), TiedDAE(2)], [(3,), (2,)])
    with pytest.raises(NotFittedError, match="fit"):
        attention.evaluate([torch.randn(2, 3), torch.randn(2, 2)])


def test_grad_norm_energy_input_is_used() -> None:
    attention = build_attention(
        [GivenPotential(), GivenPotential()], [(2,), (2,)], energy_input="grad_norm"
    )
    report = attention.evaluate(modes_from_potentials(torch.randn(3, 2), widths=[2, 2]))
    assert torch.allclose(report.raw_potential, torch.ones(3, 2))  # |d x0 / dx| = 1
    assert torch.allclose(report.potential, torch.full((3, 2), math.e))
    with pytest.raises(ValueError, match="energy_input 'nope'"):
        build_attention([GivenPotential(), GivenPotential()], [(2,), (2,)], energy_input="nope")


def test_bad_inputs_name_the_problem() -> None:
    attention = given_attention(3)
    modes = modes_from_potentials(torch.randn(4, 3))
    with pytest.raises(ValueError, match="Expected 3 modes"):
        attention.evaluate(modes[:2])
    with pytest.raises(ValueError, match="missing has shape"):
        attention.evaluate(modes, torch.zeros(4, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="Mode 1 has shape"):
        attention.evaluate([modes[0], modes[1][:2], modes[2]])
    with pytest.raises(ValueError, match="at least 2 modes"):
        build_attention([GivenPotential()], [(3,)])


def test_module_apply_still_visits_submodules() -> None:
    attention = given_attention(2)
    seen: list[str] = []
    attention.apply(lambda module: seen.append(type(module).__name__))
    assert "EnergyAttention" in seen and "Boltzmann" in seen


def test_stage_parameters_are_plain_numbers_and_frame_has_nan_for_missing() -> None:
    attention = given_attention(2)
    summary = attention.stage_parameters()
    assert isinstance(summary["capacity"], float) and isinstance(summary["gate"]["g_a"], float)
    assert summary["modal_energy"]["gamma"] == [[0.5, 0.5], [0.5, 0.5]]
    missing = torch.tensor([[False, True]])
    frame = attention.evaluate(modes_from_potentials(torch.ones(1, 2)), missing).to_frame(
        ["a", "b"]
    )
    assert math.isnan(frame.loc[0, "modal_energy_b"]) and frame.loc[0, "attention_b"] == 0.0
    assert frame.loc[0, "importance_a"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="mode_names"):
        attention.evaluate(modes_from_potentials(torch.ones(1, 2))).to_frame(["a"])


@pytest.mark.slow
def test_compile_in_place_matches_eager(daes) -> None:
    estimators, data = daes
    attention = _perturbed(build_attention(estimators, SHAPES))
    modes = [x[:16] for x in data]
    missing = torch.rand(16, 3, generator=torch.Generator().manual_seed(0)) > 0.7
    expected, report = attention(modes, missing)
    attention.compile()
    got, compiled_report = attention(modes, missing)
    assert torch.allclose(compiled_report.attention, report.attention, atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, expected, strict=True))
    assert not any("_orig_mod" in key for key in attention.state_dict())
    sum(out.sum() for out in got).backward()


BAD_VALUES = [float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 3e38]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_bad_value_makes_only_its_mode_of_its_sample_missing(daes, data) -> None:  # type: ignore[no-untyped-def]
    estimators, inputs = daes
    attention = _perturbed(build_attention(estimators, SHAPES))
    n = data.draw(st.integers(1, 6), label="n")
    sample = data.draw(st.integers(0, n - 1), label="sample")
    mode = data.draw(st.integers(0, len(SHAPES) - 1), label="mode")
    feature = data.draw(st.integers(0, math.prod(SHAPES[mode]) - 1), label="feature")
    bad = data.draw(st.sampled_from(BAD_VALUES), label="bad")
    given_missing = data.draw(st.booleans(), label="given_missing")
    clean = [x[:n].clone() for x in inputs]
    missing = None
    if given_missing:  # another sample has another mode missing too
        missing = torch.zeros(n, len(SHAPES), dtype=torch.bool)
        missing[(sample + 1) % n, (mode + 1) % len(SHAPES)] = True
    broken = [x.clone() for x in clean]
    broken[mode][sample].view(-1)[feature] = bad

    outputs, report = attention(broken, missing)

    expected_invalid = torch.zeros(n, len(SHAPES), dtype=torch.bool)
    expected_invalid[sample, mode] = True
    assert torch.equal(report.invalid, expected_invalid)
    as_missing = expected_invalid | (missing if missing is not None else expected_invalid)
    assert torch.equal(report.missing, as_missing)
    for name in ("potential", "modal_energy", "importance", "attention", "total_energy"):
        assert torch.isfinite(getattr(report, name)).all(), name
    assert all(torch.isfinite(out).all() for out in outputs)
    assert not outputs[mode][sample].any()
    # exactly what the same batch gives with that mode of that sample marked missing ...
    marked, marked_report = attention(clean, as_missing)
    for got, want in zip(outputs, marked, strict=True):
        assert torch.equal(got, want)
    for name in ("raw_potential", "modal_energy", "importance", "attention", "total_energy"):
        assert torch.equal(getattr(report, name), getattr(marked_report, name)), name
    # ... and the other samples are those of the batch without the bad value
    plain, plain_report = attention(clean, missing)
    others = torch.arange(n) != sample
    for got, want in zip(outputs, plain, strict=True):
        assert torch.equal(got[others], want[others])
    assert torch.equal(report.attention[others], plain_report.attention[others])
    # the sample's other modes keep their own measured potentials
    kept = ~expected_invalid[sample]
    assert torch.equal(report.raw_potential[sample][kept], plain_report.raw_potential[sample][kept])


def test_the_report_frame_flags_invalid_modes(daes) -> None:  # type: ignore[no-untyped-def]
    estimators, inputs = daes
    attention = build_attention(estimators, SHAPES)
    modes = [x[:2].clone() for x in inputs]
    modes[2][1, 0] = float("nan")
    frame = attention.evaluate(modes).to_frame(["a", "b", "c"])
    assert frame["invalid_c"].tolist() == [False, True]
    assert frame["missing_c"].tolist() == [False, True] and not frame["invalid_a"].any()
    assert math.isnan(frame.loc[1, "modal_energy_c"]) and frame.loc[1, "attention_c"] == 0.0


class NaNAfterFit(GivenPotential):
    """Finite on the data it was calibrated on; NaN on positive first features (a broken
    estimator, as one with non-finite weights would be)."""

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        first = x.flatten(1)[:, 0]
        return torch.where(first > 0, float("nan"), first)


def test_a_non_finite_score_of_a_present_mode_names_estimator_mode_and_remedy() -> None:
    attention = build_attention([GivenPotential(), NaNAfterFit()], [(3,), (3,)])
    attention.name_modes(["ip", "dm_snr"], ["given", "broken"])
    modes = modes_from_potentials(torch.tensor([[1.0, -1.0], [2.0, 1.0], [0.5, 3.0]]))
    with pytest.raises(EstimatorError) as caught:
        attention(modes)
    assert str(caught.value) == (
        "The estimator 'broken' (NaNAfterFit()) of mode 'dm_snr' returned a non-finite "
        "potential (nan) for 2 of 3 present samples whose values are finite. Its weights are "
        "not usable (a diverged fit or damaged weights): refit it on clean, finite data "
        "(EmmaModel.fit_estimators) or check the estimator's parameters."
    )
    # only present modes are checked: with those samples' mode missing, all is well
    missing = torch.tensor([[False, False], [False, True], [False, True]])
    _, report = attention(modes, missing)
    assert torch.isfinite(report.attention).all() and not report.invalid.any()
