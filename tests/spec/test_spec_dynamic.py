"""Kind unions come from the registries: plugin kinds validate with their own parameters."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from emma_plugins import hookimpl
from emma_plugins.core.errors import SpecError
from emma_plugins.core.plugins import NO_AUTOLOAD_ENV, PluginHost
from emma_plugins.estimators import TiedDAE
from emma_plugins.spec import EmmaSpec, parse_spec, spec_model

HAS_GAUSSIAN = importlib.util.find_spec("emma_gaussian") is not None


def spec_with(estimator: Any, **extra: Any) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "modes": [
            {"name": "a", "width": 3, "estimator": estimator},
            {"name": "b", "width": 2, "estimator": {"kind": "dae"}},
        ],
        "network": {"kind": "mlp"},
        **extra,
    }


class ToyParams(BaseModel):
    """Parameters of the toy estimator."""

    model_config = ConfigDict(extra="forbid")

    scale: float = Field(1.0, gt=0)

    def check_context(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 1:
            raise ValueError(f"toy needs flat modes, got shape {list(shape)}")


def toy(shape: tuple[int, ...], scale: float = 1.0) -> TiedDAE:
    """The toy estimator's factory: it takes the context keyword and every parameter."""
    return TiedDAE(shape)


def toy_host() -> PluginHost:
    """Built-ins plus a third-party estimator registered in-process."""

    @hookimpl
    def register_estimators(register: Any) -> None:
        register("toy", toy, ToyParams)

    host = PluginHost(autoload=False)
    host.register(SimpleNamespace(register_estimators=register_estimators), "emma-toy", "toy")
    return host


def test_validated_spec_is_an_emmaspec_with_kind_models() -> None:
    spec = parse_spec(spec_with({"kind": "dae", "hidden": 5}))
    assert isinstance(spec, EmmaSpec)
    estimator = spec.modes[0].estimator
    assert type(estimator).registration is not None
    assert type(estimator).registration.kind == "dae"
    assert estimator.params()["hidden"] == 5
    assert estimator.params()["sigma"] == 0.01  # the kind's own default


def test_string_shorthand_names_a_kind() -> None:
    spec = parse_spec(spec_with("dae"))
    assert spec.modes[0].estimator.kind == "dae"


def test_third_party_kind_validates_with_its_own_parameters() -> None:
    host = toy_host()
    spec = parse_spec(spec_with({"kind": "toy", "scale": 2.5}), host=host)
    assert spec.modes[0].estimator.params() == {"scale": 2.5}
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_with({"kind": "toy", "scale": -1}), host=host)
    assert [i.location for i in caught.value.issues] == ["modes[0].estimator.scale"]
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_with({"kind": "toy", "hidden": 3}), host=host)
    assert "Allowed keys: kind, scale" in caught.value.issues[0].message


def test_check_context_of_a_params_model_reports_at_the_component() -> None:
    data = spec_with({"kind": "toy"})
    data["modes"][0] = {"name": "a", "shape": [2, 2], "estimator": {"kind": "toy"}}
    with pytest.raises(SpecError) as caught:
        parse_spec(data, host=toy_host())
    issue = caught.value.issues[0]
    assert issue.location == "modes[0].estimator"
    assert "toy needs flat modes, got shape [2, 2]" in issue.message


def test_kind_unknown_without_the_plugin_host() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_with({"kind": "toy"}))
    message = caught.value.issues[0].message
    assert "Unknown estimator 'toy'" in message
    assert "needs that plugin installed" in message


def test_model_is_cached_per_host_and_rebuilt_when_kinds_change() -> None:
    host = toy_host()
    first = spec_model(host)
    assert spec_model(host) is first
    host.registry("estimator").remove("toy")
    assert spec_model(host) is not first
    with pytest.raises(SpecError, match="Unknown estimator 'toy'"):
        parse_spec(spec_with({"kind": "toy"}), host=host)


@pytest.mark.skipif(not HAS_GAUSSIAN, reason="the emma-gaussian plugin is not installed")
def test_gaussian_plugin_kind_validates_with_its_parameters() -> None:
    spec = parse_spec(spec_with({"kind": "gaussian", "reg": 0.01}))
    assert spec.modes[0].estimator.params() == {"reg": 0.01}
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_with({"kind": "gaussian", "reg": -1}))
    assert caught.value.issues[0].location == "modes[0].estimator.reg"
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_with({"kind": "gaussian", "hidden": 3}))
    assert "unknown key 'hidden'" in caught.value.issues[0].message


@pytest.mark.skipif(not HAS_GAUSSIAN, reason="the emma-gaussian plugin is not installed")
def test_gaussian_rejected_helpfully_when_plugins_do_not_load(
    clean_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NO_AUTOLOAD_ENV, "1")
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_with({"kind": "gaussian"}))
    issue = caught.value.issues[0]
    assert issue.location == "modes[0].estimator"
    assert issue.message.startswith("Unknown estimator 'gaussian'. Available: dae.")
    assert "plugin installed" in issue.message


def test_fresh_host_without_autoload_lacks_plugin_kinds() -> None:
    host = PluginHost(autoload=False)
    with pytest.raises(SpecError, match="Unknown estimator 'gaussian'"):
        parse_spec(spec_with({"kind": "gaussian"}), host=host)


def test_dotted_kind_is_refused_even_when_it_names_real_code() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_with({"kind": "emma_plugins.estimators.dae.TiedDAE"}))
    message = caught.value.issues[0].message
    assert "looks like a Python import path" in message
    assert "build(spec, network=...)" in message


def test_non_string_kind_is_refused() -> None:
    with pytest.raises(SpecError, match="'kind' must be a string"):
        parse_spec(spec_with({"kind": 3}))


# -- factories that would reject the builder's keywords are spec issues, not tracebacks ----------
class NoKeywordsGate(nn.Module):
    """A gate written without the ``n_modes`` context keyword."""

    def __init__(self) -> None:
        super().__init__()

    def forward(self, importance: Tensor) -> Tensor:
        return importance

    def capacity(self) -> Tensor:
        return torch.tensor(0.5)

    effective_capacity = capacity

    def capacity_penalty(self) -> Tensor:
        return torch.tensor(0.0)


def flat_only(hidden: int = 4) -> TiedDAE:
    """An estimator factory that forgets the ``shape`` context keyword."""
    return TiedDAE((3,), hidden=hidden)


class HiddenParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: int = 4


def tolerant(**kwargs: Any) -> TiedDAE:
    return TiedDAE(kwargs["shape"])


def keyword_host() -> PluginHost:
    class Plugin:
        @hookimpl
        def register_estimators(self, register: Any) -> None:
            register("flat_only", flat_only, HiddenParams)
            register("tolerant", tolerant, HiddenParams)

        @hookimpl
        def register_gates(self, register: Any) -> None:
            register("no_keywords", NoKeywordsGate)

        @hookimpl
        def register_networks(self, register: Any) -> None:
            register("needs_more", lambda mode_shapes, out_features, depth: None)

    host = PluginHost(autoload=False)
    host.register(Plugin(), "emma-careless", "careless")
    return host


def test_factory_rejecting_context_keywords_is_reported_at_its_location() -> None:
    data = spec_with({"kind": "flat_only"})
    data["attention"] = {"gate": "no_keywords"}
    with pytest.raises(SpecError) as caught:
        parse_spec(data, host=keyword_host())
    issues = {issue.location: issue.message for issue in caught.value.issues}
    assert set(issues) == {"modes[0].estimator", "attention.gate"}
    estimator = issues["modes[0].estimator"]
    assert "kind 'flat_only' from 'emma-careless'" in estimator
    assert "flat_only does not accept the keyword(s) shape" in estimator
    assert "kind 'no_keywords' from 'emma-careless'" in issues["attention.gate"]
    assert "does not accept the keyword(s) n_modes" in issues["attention.gate"]


def test_factory_with_a_required_argument_the_builder_never_passes() -> None:
    data = spec_with({"kind": "dae"}, network={"kind": "needs_more"})
    with pytest.raises(SpecError) as caught:
        parse_spec(data, host=keyword_host())
    (issue,) = caught.value.issues
    assert issue.location == "network"
    assert "requires depth, which the builder never passes" in issue.message


def test_factory_taking_kwargs_accepts_every_keyword() -> None:
    spec = parse_spec(spec_with({"kind": "tolerant", "hidden": 2}), host=keyword_host())
    assert spec.modes[0].estimator.kind == "tolerant"
