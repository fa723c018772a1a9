"""The protocols of `emma_plugins.core.contracts`, checked at registration and build time."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from _attention_fakes import GivenPotential
from torch import Tensor, nn

from emma_plugins import ContractError, build, hookimpl
from emma_plugins.attention import build_attention
from emma_plugins.core import contracts
from emma_plugins.core.contracts import (
    CONTRACTS,
    HasCapacity,
    contract_problems,
    factory_keyword_problems,
    member_names,
    missing_members,
)
from emma_plugins.core.plugins import (
    FAMILIES,
    STRICT_ENV,
    EmmaPluginWarning,
    get_registry,
    load_failures,
    plugin_host,
)
from emma_plugins.networks import interfaces

pytestmark = pytest.mark.usefixtures("clean_plugins")


class NoPenaltyGate(nn.Module):
    def __init__(self, n_modes: int) -> None:
        super().__init__()

    def forward(self, importance: Tensor) -> Tensor:
        return importance

    def capacity(self) -> Tensor:
        return torch.tensor(0.5)

    effective_capacity = capacity


class EncodeOnly(nn.Module):
    def __init__(self, mode_shapes: Any, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(sum(s[0] for s in mode_shapes), out_features)

    def forward(self, modes: list[Tensor]) -> Tensor:
        return self.linear(torch.cat(modes, dim=1))

    def encode(self, modes: list[Tensor]) -> list[Tensor]:
        return list(modes)


def test_every_family_has_a_contract_and_every_protocol_members() -> None:
    assert set(CONTRACTS) == set(FAMILIES)
    assert member_names(HasCapacity) == ("capacity", "effective_capacity", "capacity_penalty")
    for contract in CONTRACTS.values():
        for protocol in (*contract.required, *contract.optional):
            assert member_names(protocol), protocol


def test_network_interfaces_reexport_the_contract_protocols() -> None:
    assert interfaces.HasTrainingLoss is contracts.HasTrainingLoss
    assert interfaces.HasQualityScores is contracts.HasQualityScores
    assert interfaces.EncodesModes is contracts.EncodesModes


def test_missing_members_of_classes_and_instances() -> None:
    assert missing_members(NoPenaltyGate, HasCapacity) == ["capacity_penalty"]
    assert missing_members(NoPenaltyGate(2), HasCapacity) == ["capacity_penalty"]
    problems = contract_problems("network", nn.Module())
    assert any("forward()" in problem for problem in problems)  # nn.Module's placeholder
    (half,) = contract_problems("network", EncodeOnly([(2,), (3,)], 1))
    assert "defines encode() but not fuse()" in half and "all or nothing" in half


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "dataset"])
def test_every_builtin_kind_factory_passes_its_contract(family: str) -> None:
    for registration in get_registry(family):
        assert contract_problems(family, registration.factory) == [], registration.kind


def test_a_class_missing_a_required_method_is_a_broken_plugin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Plugin:
        @hookimpl
        def register_gates(self, register: Any) -> None:
            register("no_penalty", NoPenaltyGate)

    plugin_host().register(Plugin(), "emma-no-penalty", "no_penalty")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert "no_penalty" not in get_registry("gate")
    messages = [str(w.message) for w in caught if issubclass(w.category, EmmaPluginWarning)]
    (message,) = messages
    assert "gate kind 'no_penalty' (NoPenaltyGate" in message
    assert "from 'emma-no-penalty'" in message and "missing capacity_penalty()" in message
    assert load_failures()[0].provider == "emma-no-penalty"

    monkeypatch.setenv(STRICT_ENV, "1")
    from emma_plugins.core.plugins import PluginHost, PluginLoadError

    host = PluginHost(autoload=False)
    host.register(Plugin(), "emma-no-penalty", "no_penalty")
    with pytest.raises(PluginLoadError, match="capacity_penalty"):
        host.registry("gate")


def test_a_built_stage_missing_a_required_method_fails_at_build_time() -> None:
    class Plugin:
        @hookimpl
        def register_gates(self, register: Any) -> None:
            register("made", lambda n_modes: NoPenaltyGate(n_modes))  # checked once built

    plugin_host().register(Plugin(), "emma-made", "made")
    with pytest.raises(ContractError) as caught:
        build_attention(
            [GivenPotential(), GivenPotential()], [(3,), (3,)], {"gate": {"kind": "made"}}
        )
    message = str(caught.value)
    for part in ("gate kind 'made'", "NoPenaltyGate", "'emma-made'", "capacity_penalty()"):
        assert part in message


def test_a_network_with_half_an_optional_protocol_fails_at_build_time() -> None:
    class Plugin:
        @hookimpl
        def register_networks(self, register: Any) -> None:
            register(
                "encode_only",
                lambda mode_shapes, out_features: EncodeOnly(mode_shapes, out_features),
            )

    plugin_host().register(Plugin(), "emma-encode-only", "encode_only")
    spec = {
        "spec_version": 1,
        "modes": [
            {"name": "a", "width": 2, "estimator": "dae"},
            {"name": "b", "width": 3, "estimator": "dae"},
        ],
        "network": "encode_only",
    }
    with pytest.raises(ContractError, match=r"network kind 'encode_only'.*not fuse\(\)"):
        build(spec)


def test_factory_keyword_problems() -> None:
    def strict(n_modes: int, gain: float = 1.0) -> None: ...

    def loose(**kwargs: Any) -> None: ...

    assert factory_keyword_problems(strict, ["gain", "n_modes"]) == []
    assert factory_keyword_problems(strict, ["n_modes", "mode_shapes"]) == [
        "does not accept the keyword(s) mode_shapes that the builder passes"
    ]
    assert factory_keyword_problems(strict, ["gain"]) == [
        "requires n_modes, which the builder never passes"
    ]
    assert factory_keyword_problems(loose, ["anything"]) == []
