"""Property-based tests of the attention maths over energies, widths, masks and M = 2..8."""

from __future__ import annotations

import torch
from _attention_fakes import given_attention, modes_from_potentials
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins.attention import capacity_penalty, energy_regularizer, xi_from_corrupted

POTENTIAL = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def cases(draw: st.DrawFn) -> dict:
    m = draw(st.integers(2, 8))
    n = draw(st.integers(1, 6))
    flat = draw(st.lists(POTENTIAL, min_size=n * m, max_size=n * m))
    missing = draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))
    corrupted = draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))
    widths = draw(st.lists(st.integers(1, 4), min_size=m, max_size=m))
    stages = {
        "modal_energy": {"kind": draw(st.sampled_from(["coupled", "self_only"]))},
        "importance": {"kind": "boltzmann", "rho": draw(st.sampled_from([1e-4, 0.1, 1.0, 50.0]))},
        "gate": {"kind": draw(st.sampled_from(["shared_tanh", "per_mode", "identity"]))},
    }
    return {
        "potentials": torch.tensor(flat).reshape(n, m),
        "missing": torch.tensor(missing).reshape(n, m),
        "corrupted": torch.tensor(corrupted).reshape(n, m),
        "widths": widths,
        "stages": stages,
        "gamma_seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=150, deadline=None)
@given(cases())
def test_report_is_a_distribution_and_finite(case: dict) -> None:
    m = case["potentials"].shape[1]
    attention = given_attention(m, case["stages"], case["widths"])
    if hasattr(attention.modal_energy, "gamma"):  # start somewhere other than gamma = 0.5
        generator = torch.Generator().manual_seed(case["gamma_seed"])
        with torch.no_grad():
            attention.modal_energy.gamma.copy_(torch.rand(m, m, generator=generator))
    missing = case["missing"]
    modes = modes_from_potentials(case["potentials"], case["widths"])
    for i in range(m):  # a missing mode's tensor may hold garbage
        modes[i][missing[:, i]] = float("nan")
    outputs, report = attention(modes, missing)

    present = ~missing
    alpha, beta = report.importance, report.attention
    totals = alpha.sum(dim=1)
    expected = present.any(dim=1).float()
    assert torch.allclose(totals, expected, atol=1e-5)
    assert ((beta >= 0) & (beta <= 1)).all()
    assert (beta[missing] == 0).all() and (alpha[missing] == 0).all()
    for field in ("raw_potential", "potential", "self_energy", "modal_energy", "log_importance"):
        assert torch.isfinite(getattr(report, field)).all(), field
    assert torch.isfinite(report.total_energy).all()
    for i, out in enumerate(outputs):
        assert torch.isfinite(out).all()
        assert (out[missing[:, i]] == 0).all()

    loss = sum(out.sum() for out in outputs) + report.total_energy.sum() * 1e-6
    loss = loss + energy_regularizer(report, xi_from_corrupted(case["corrupted"]))
    loss = loss + capacity_penalty(attention)
    loss.backward()
    for name, parameter in attention.named_parameters():
        if parameter.grad is not None:
            assert torch.isfinite(parameter.grad).all(), name
