"""Chapter 7: the network receives beta_i * m_i * x_i, then the cross-modal output."""

from __future__ import annotations

import torch
from _attention_fakes import given_attention, modes_from_potentials

WIDTHS = [3, 5, 2]


def _unified(cross_modal: bool):
    stages = {"endogenous": {"kind": "sigmoid_mask", "init_bias": 0.0}}
    if cross_modal:
        stages["cross_modal"] = {"kind": "mha", "dim": 8, "heads": 2}
    attention = given_attention(3, stages, WIDTHS)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # move away from the (nearly) uniform, identity-like start
        for parameter in list(attention.endogenous.parameters()) + (
            list(attention.cross_modal.parameters()) if cross_modal else []
        ):
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return attention


def _inputs():
    generator = torch.Generator().manual_seed(1)
    modes = modes_from_potentials(3 * torch.rand(6, 3, generator=generator), WIDTHS)
    missing = torch.zeros(6, 3, dtype=torch.bool)
    missing[2, 1] = True
    modes[1][2] = float("nan")
    return modes, missing


def test_network_input_is_attention_times_mask_times_mode() -> None:
    attention = _unified(cross_modal=False)
    modes, missing = _inputs()
    outputs, report = attention(modes, missing)
    safe = [torch.nan_to_num(x) for x in modes]
    masks = attention.endogenous(safe)
    assert not torch.allclose(masks[0], torch.full_like(masks[0], float(masks[0][0, 0].detach())))
    for i, (out, mask, x) in enumerate(zip(outputs, masks, safe, strict=True)):
        expected = report.attention[:, i : i + 1] * mask * x
        assert torch.allclose(out, expected, rtol=1e-6, atol=1e-7)
    assert (outputs[1][2] == 0).all()


def test_cross_modal_runs_after_masking() -> None:
    attention = _unified(cross_modal=True)
    modes, missing = _inputs()
    outputs, report = attention(modes, missing)
    safe = [torch.nan_to_num(x) for x in modes]
    masks = attention.endogenous(safe)
    masked = [report.attention[:, i : i + 1] * masks[i] * safe[i] for i in range(len(modes))]
    expected = attention.cross_modal(masked, ~missing)
    for i, (out, want) in enumerate(zip(outputs, expected, strict=True)):
        keep = ~missing[:, i : i + 1]
        assert torch.allclose(out, torch.where(keep, want, 0.0), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(out[keep[:, 0]], masked[i][keep[:, 0]])  # it did mix
    assert (outputs[1][2] == 0).all() and torch.isfinite(torch.cat(outputs, 1)).all()


def test_cross_modal_ignores_missing_modes_as_keys() -> None:
    attention = _unified(cross_modal=True)
    modes, missing = _inputs()
    outputs, _ = attention(modes, missing)
    modes[1][2] = 1e3  # any value: the mode is missing
    again, _ = attention(modes, missing)
    assert torch.equal(outputs[0][2], again[0][2]) and torch.equal(outputs[2][2], again[2][2])


def test_every_mode_missing_gives_zero_everywhere() -> None:
    attention = _unified(cross_modal=True)
    modes, _ = _inputs()
    outputs, report = attention(modes, torch.ones(6, 3, dtype=torch.bool))
    assert all((out == 0).all() for out in outputs)
    assert (report.importance == 0).all() and (report.attention == 0).all()
    sum(out.sum() for out in outputs).backward()
    assert all(torch.isfinite(p.grad).all() for p in attention.parameters() if p.grad is not None)
