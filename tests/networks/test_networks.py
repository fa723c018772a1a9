"""The built-in networks: shapes, the thesis' HTRU2 network, encode/fuse, registration."""

from __future__ import annotations

import pytest
import torch

from emma_plugins.core.plugins import get_registry
from emma_plugins.networks import MLP, EncoderFusion, LateFusion, MLPParams

SHAPES = [(4,), (2, 3)]


def modes(n: int = 5) -> list[torch.Tensor]:
    torch.manual_seed(0)
    return [torch.randn(n, *shape) for shape in SHAPES]


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_thesis_htru2_network_is_8_8_4_1() -> None:
    net = MLP([(4,), (4,)], out_features=1, hidden=[8, 4])
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8, 8), (8, 4), (4, 1)]
    assert all(isinstance(net.layers[i], torch.nn.ReLU) for i in (1, 3))
    assert count(net) == (8 * 8 + 8) + (8 * 4 + 4) + (4 + 1)


@pytest.mark.parametrize("kind", ["mlp", "late_fusion", "encoder_fusion"])
def test_every_builtin_network_maps_modes_to_logits(kind: str) -> None:
    registration = get_registry("network").get(kind)
    net = registration.build({}, mode_shapes=SHAPES, out_features=3)
    out = net(modes())
    assert out.shape == (5, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_mlp_concatenates_flattened_modes_in_order() -> None:
    net = MLP(SHAPES, out_features=1, hidden=[])
    xs = modes()
    expected = net.layers[0](torch.cat([xs[0], xs[1].flatten(1)], dim=1))
    assert torch.allclose(net(xs), expected)


def test_late_fusion_averages_the_heads() -> None:
    net = LateFusion(SHAPES, out_features=2, hidden=[4])
    xs = modes()
    heads = [head(x.flatten(1)) for head, x in zip(net.heads, xs, strict=True)]
    assert torch.allclose(net(xs), (heads[0] + heads[1]) / 2)


def test_encoder_fusion_forward_is_fuse_of_encode() -> None:
    net = EncoderFusion(SHAPES, out_features=1, encoder=[6, 5], head=[4])
    xs = modes()
    encodings = net.encode(xs)
    assert [e.shape for e in encodings] == [(5, 5), (5, 5)]
    assert torch.allclose(net(xs), net.fuse(encodings))
    scaled = net.fuse([encodings[0], torch.zeros_like(encodings[1])])
    assert not torch.allclose(scaled, net(xs))


def test_dropout_and_activation_are_applied() -> None:
    net = MLP(SHAPES, out_features=1, hidden=[8], activation="tanh", dropout=0.5)
    kinds = [type(m).__name__ for m in net.layers]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear"]


def test_mlp_in_features_check() -> None:
    MLPParams(in_features=10).check_context(mode_shapes=SHAPES, out_features=1)
    with pytest.raises(ValueError, match="in_features is 9 but the modes give 10 values"):
        MLPParams(in_features=9).check_context(mode_shapes=SHAPES, out_features=1)
    with pytest.raises(ValueError, match="in_features=9"):
        MLP(SHAPES, out_features=1, in_features=9)


def test_mlp_reads_only_the_chosen_modes() -> None:

    torch.manual_seed(0)
    net = MLP([(4,), (4,)], 1, hidden=[8, 4], reads=[0])
    assert net.in_features == 4
    x0, x1 = torch.randn(5, 4), torch.randn(5, 4)
    torch.testing.assert_close(net([x0, x1]), net([x0, torch.randn(5, 4)]))


def test_mlp_reads_an_index_that_is_not_a_mode_is_a_spec_error() -> None:
    from emma_plugins import SpecError, parse_spec

    spec = {
        "spec_version": 1,
        "modes": [{"name": n, "width": 4, "estimator": {"kind": "dae"}} for n in ("a", "b")],
        "network": {"kind": "mlp", "reads": [2]},
        "out_features": 1,
    }
    with pytest.raises(SpecError, match=r"reads names mode indices \[2\]"):
        parse_spec(spec)
