"""Late fusion as per-mode experts routed by EMMA's attention (``apply_to: encodings``)."""

from __future__ import annotations

import torch
from _spec_samples import calibrated, spec_dict, table

from emma_plugins.assembly.builder import build
from emma_plugins.networks import LateFusion


def test_late_fusion_encodes_each_mode_to_its_own_logits() -> None:
    torch.manual_seed(0)
    net = LateFusion([(4,), (2, 3)], out_features=3, hidden=[4])
    xs = [torch.randn(5, 4), torch.randn(5, 2, 3)]
    logits = net.encode(xs)
    assert [tuple(e.shape) for e in logits] == [(5, 3), (5, 3)]
    assert torch.allclose(logits[1], net.heads[1](xs[1].flatten(1)))
    assert torch.allclose(net(xs), net.fuse(logits))


def test_attention_weighs_each_experts_prediction() -> None:
    spec = spec_dict(attention={"apply_to": "encodings"})
    spec["network"] = {"kind": "late_fusion", "hidden": [4]}
    torch.manual_seed(0)
    model = calibrated(build(spec), table())
    x = table(n=6, seed=3)
    out = model(x)
    experts = model.network.encode(model.split(x))
    beta = out.report.attention
    expected = (beta[:, :1] * experts[0] + beta[:, 1:] * experts[1]) / 2
    assert torch.allclose(out.output, expected, atol=1e-6)
    missing = torch.zeros(6, 2, dtype=torch.bool)
    missing[:, 1] = True
    alone = model(x, missing)
    assert torch.allclose(alone.output, alone.report.attention[:, :1] * experts[0] / 2, atol=1e-6)
