"""`build_attention`: kinds from the registries, defaults, errors and third-party stages."""

from __future__ import annotations

import pytest
import torch
from _attention_fakes import GivenPotential, modes_from_potentials
from torch import Tensor, nn

from emma_plugins import hookimpl
from emma_plugins.attention import DEFAULT_STAGES, build_attention
from emma_plugins.core.errors import SpecError, UnknownKindError
from emma_plugins.core.plugins import get_registry, plugin_host, reset_plugins


def _estimators(m: int = 3) -> list[GivenPotential]:
    return [GivenPotential() for _ in range(m)]


def test_builtin_kinds_are_registered() -> None:
    assert get_registry("correction").kinds() == ["min_shift", "standardized"]
    assert {"coupled", "self_only"} <= set(get_registry("modal_energy").kinds())
    assert "boltzmann" in get_registry("importance")
    assert {"shared_tanh", "per_mode", "identity"} <= set(get_registry("gate").kinds())
    assert "sigmoid_mask" in get_registry("endogenous") and "mha" in get_registry("cross_modal")


def test_defaults_fill_missing_slots() -> None:
    attention = build_attention(_estimators(), [(3,)] * 3, {"gate": {"kind": "identity"}})
    assert type(attention.gate).__name__ == "IdentityGate"
    assert type(attention.modal_energy).__name__ == "CoupledEnergy"
    assert attention.endogenous is None and attention.cross_modal is None
    assert set(DEFAULT_STAGES) == {"correction", "modal_energy", "importance", "gate"}


def test_params_reach_the_stage() -> None:
    stages = {
        "importance": {"kind": "boltzmann", "rho": 0.01},
        "modal_energy": {"kind": "coupled", "seed": 5},
    }
    attention = build_attention(_estimators(), [(3,)] * 3, stages)
    assert attention.importance.coldness == pytest.approx(0.01)
    attention.importance.set_coldness(2.0)
    assert attention.importance.coldness == pytest.approx(2.0)
    with pytest.raises(ValueError, match="rho"):
        attention.importance.set_coldness(0.0)


def test_errors_name_the_slot_and_the_fix() -> None:
    with pytest.raises(UnknownKindError, match="Did you mean 'shared_tanh'"):
        build_attention(_estimators(), [(3,)] * 3, {"gate": {"kind": "shared_tan"}})
    with pytest.raises(SpecError, match=r"stages\.importance"):
        build_attention(_estimators(), [(3,)] * 3, {"importance": {"kind": "boltzmann", "rho": -1}})
    with pytest.raises(SpecError, match="Unknown attention slot"):
        build_attention(_estimators(), [(3,)] * 3, {"gates": {"kind": "identity"}})
    with pytest.raises(SpecError, match="missing 'kind'"):
        build_attention(_estimators(), [(3,)] * 3, {"gate": {}})
    with pytest.raises(SpecError, match="heads"):
        build_attention(_estimators(), [(3,)] * 3, {"cross_modal": {"kind": "mha", "dim": 5}})
    with pytest.raises(SpecError, match="mode shapes"):
        build_attention(_estimators(), [(3,)] * 2)


class HalfGate(nn.Module):
    """A third-party gate: beta = alpha / 2."""

    def __init__(self, n_modes: int) -> None:
        super().__init__()

    def forward(self, importance: Tensor) -> Tensor:
        return importance / 2

    def capacity(self) -> Tensor:
        return torch.tensor(0.25)

    effective_capacity = capacity

    def capacity_penalty(self) -> Tensor:
        return torch.tensor(0.0)


class ThirdParty:
    @hookimpl
    def register_gates(self, register) -> None:
        register("half", HalfGate)


def test_a_third_party_stage_plugs_in() -> None:
    reset_plugins()
    try:
        plugin_host().register(ThirdParty(), "emma-half-gate")
        attention = build_attention(_estimators(2), [(3,)] * 2, {"gate": {"kind": "half"}})
        report = attention.evaluate(modes_from_potentials(torch.tensor([[1.0, 2.0]])))
        assert torch.allclose(report.attention, report.importance / 2)
        assert attention.stage_parameters()["capacity"] == 0.25
    finally:
        reset_plugins()
