"""`build`: specs become models; user networks are dry-run; attention on inputs or encodings."""

from __future__ import annotations

import pytest
import torch
from _spec_samples import HTRU2_TOML, HTRU2_YAML, SumNet, calibrated, spec_dict, table
from torch import nn

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.attention import EnergyAttention
from emma_plugins.core.errors import SpecError
from emma_plugins.estimators import TiedDAE
from emma_plugins.networks import MLP, EncoderFusion
from emma_plugins.spec import load_spec, parse_spec


def structure(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(t.shape)) for name, t in model.state_dict().items()]


def test_htru2_example_builds_the_thesis_model() -> None:
    model = build(HTRU2_YAML)
    assert isinstance(model, EmmaModel)
    assert isinstance(model.attention, EnergyAttention)
    assert [type(e) for e in model.estimators] == [TiedDAE, TiedDAE]
    assert [e.hidden for e in model.estimators] == [12, 12]  # type: ignore[union-attr]
    assert isinstance(model.network, MLP)
    assert sum(p.numel() for p in model.network.parameters()) == 113
    assert model.mode_names == ("ip", "dm_snr")


def test_yaml_and_toml_build_identical_models() -> None:
    from_yaml, from_toml = build(HTRU2_YAML), build(HTRU2_TOML)
    assert structure(from_yaml) == structure(from_toml)
    assert repr(from_yaml) == repr(from_toml)
    count = [sum(p.numel() for p in m.parameters()) for m in (from_yaml, from_toml)]
    assert count[0] == count[1]


def test_build_accepts_spec_objects_mappings_and_paths() -> None:
    spec = load_spec(HTRU2_YAML)
    for source in (spec, spec.to_dict(), str(HTRU2_YAML)):
        assert structure(build(source)) == structure(build(HTRU2_YAML))
    with pytest.raises(TypeError, match="EmmaSpec, a mapping or a spec file path"):
        build(42)  # type: ignore[arg-type]


def test_stage_parameters_reach_the_modules() -> None:
    model = build(spec_dict(attention={"importance": {"kind": "boltzmann", "rho": 0.25}}))
    assert model.attention is not None
    assert model.attention.importance.coldness == pytest.approx(0.25)


def test_disabled_attention_gives_the_bare_network() -> None:
    model = build(spec_dict(attention={"enabled": False}))
    assert model.attention is None
    assert list(model.estimators) == []
    x = table()
    out = model(x)
    assert out.report is None
    assert torch.equal(out.output, model.network(model.split(x)))


def test_attention_on_inputs_feeds_weighted_modes_to_the_network() -> None:
    model = calibrated(build(spec_dict()), table())
    x = table(seed=1)
    out = model(x)
    assert out.report is not None
    beta = out.report.attention
    weighted = [beta[:, i : i + 1] * mode for i, mode in enumerate(model.split(x))]
    assert torch.allclose(out.output, model.network(weighted))


def test_attention_on_encodings_weighs_the_encoder_outputs() -> None:
    data = spec_dict(
        attention={"apply_to": "encodings"},
        network={"kind": "encoder_fusion", "encoder": [5], "head": [4]},
    )
    model = calibrated(build(data), table())
    assert isinstance(model.network, EncoderFusion)
    x = table(seed=2)
    out = model(x)
    assert out.report is not None
    beta = out.report.attention
    encodings = model.network.encode(model.split(x))
    expected = model.network.fuse([beta[:, i : i + 1] * e for i, e in enumerate(encodings)])
    assert torch.allclose(out.output, expected)
    # the estimators still see the raw modes
    raw = [est.potential(m) for est, m in zip(model.estimators, model.split(x), strict=True)]
    assert torch.allclose(out.report.raw_potential, torch.stack(raw, dim=1))
    out.output.sum().backward()
    assert model.attention is not None
    assert model.attention.gate.gain.grad is not None


def test_user_network_replaces_the_spec_network() -> None:
    data = spec_dict()
    del data["network"]
    net = SumNet()
    model = calibrated(build(data, network=net), table())
    assert model.network is net
    assert model.network_source == "user"
    assert model(table()).output.shape == (16, 1)


def test_spec_without_network_needs_one_in_python() -> None:
    data = spec_dict()
    del data["network"]
    with pytest.raises(SpecError, match=r"build\(spec, network=my_module\)"):
        build(data)


def test_user_network_that_rejects_the_modes_is_named_with_the_shapes() -> None:
    with pytest.raises(SpecError) as caught:
        build(spec_dict(), network=SumNet(width=3))
    message = str(caught.value)
    assert "network SumNet does not accept the spec's modes" in message
    assert "ip [2, 4], dm_snr [2, 4]" in message
    assert "RuntimeError" in message


def test_user_network_with_the_wrong_output_width_is_refused() -> None:
    with pytest.raises(SpecError, match=r"returned \(2, 3\).*expected a tensor of shape \[2, 1\]"):
        build(spec_dict(), network=SumNet(out=3))


def test_non_module_network_is_refused() -> None:
    with pytest.raises(SpecError, match=r"needs a torch\.nn\.Module"):
        build(spec_dict(), network=lambda modes: modes[0])  # type: ignore[arg-type]


def test_encodings_need_encode_and_fuse_on_a_user_network() -> None:
    data = spec_dict(attention={"apply_to": "encodings"})
    del data["network"]
    with pytest.raises(SpecError, match="has no encode"):
        build(data, network=SumNet())


def test_dry_run_keeps_the_training_mode() -> None:
    net = SumNet()
    net.train()
    build(spec_dict(), network=net)
    assert net.training


def test_every_registered_network_builds_from_a_spec() -> None:
    for kind in ("mlp", "late_fusion", "encoder_fusion"):
        spec = parse_spec(spec_dict(network={"kind": kind}, out_features=2))
        model = calibrated(build(spec), table())
        assert model(table()).output.shape == (16, 2)
