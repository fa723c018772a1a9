"""Typed overrides: partial sections, component patches, one validation of the result."""

from __future__ import annotations

from typing import Any

import pytest

from emma_plugins.attention import DEFAULT_STAGES, STAGE_SLOTS
from emma_plugins.core.errors import SpecError
from emma_plugins.spec import (
    OPTIONAL_SLOTS,
    REQUIRED_SLOTS,
    SLOTS,
    AttentionSpec,
    TrainingSpec,
    parse_spec,
)
from emma_plugins.spec.overrides import (
    AttentionOverrides,
    ComponentPatch,
    TrainingOverrides,
    override,
    partial_model,
)
from emma_plugins.spec.sections import ANNEAL_START


def spec(**sections: Any) -> Any:
    return parse_spec(
        {
            "spec_version": 1,
            "modes": [
                {"name": "ip", "width": 4, "estimator": "dae"},
                {"name": "dm_snr", "width": 4, "estimator": "dae"},
            ],
            "network": {"kind": "mlp", "hidden": [8]},
            **sections,
        }
    )


def test_slot_names_come_from_the_attention_stages() -> None:
    assert tuple(STAGE_SLOTS) == SLOTS
    assert set(REQUIRED_SLOTS) == set(DEFAULT_STAGES)
    assert REQUIRED_SLOTS + OPTIONAL_SLOTS == SLOTS
    assert set(AttentionOverrides.model_fields) >= set(SLOTS)
    stage_fields = [name for name in AttentionSpec.model_fields if name in SLOTS]
    assert stage_fields == list(SLOTS)
    assert list(AttentionSpec().stages()) == list(REQUIRED_SLOTS)


def test_a_patch_updates_parameters_and_a_new_kind_replaces_the_component() -> None:
    base = spec(attention={"importance": {"kind": "boltzmann", "rho": 0.01}})
    tuned = override(base, attention=AttentionOverrides(importance=ComponentPatch(rho=0.5)))
    assert (tuned.attention.importance.kind, tuned.attention.importance.rho) == ("boltzmann", 0.5)
    assert base.attention.importance.rho == 0.01  # the original is not changed
    gate = AttentionOverrides.model_validate({"gate": "identity"})  # a kind name alone
    assert override(base, attention=gate).attention.gate.kind == "identity"
    # the old kind's parameters do not leak into the new one
    wider = override(base, network=ComponentPatch(hidden=[16, 4]))
    assert wider.network is not None and wider.network.hidden == [16, 4]


def test_training_overrides_keep_the_sections_constraints() -> None:
    for bad in ({"epochs": -5}, {"lr": "abc"}, {"lr": 0}, {"epoch": 3}):
        with pytest.raises(ValueError):
            TrainingOverrides.model_validate(bad)
    changed = override(
        spec(training={"epochs": 7, "patience": 2}),
        training=TrainingOverrides.model_validate(
            {"lambda_e": 0, "patience": None, "anneal": {"factor": 2}}
        ),
    )
    training = changed.resolved_training
    assert (training.epochs, training.lambda_e, training.patience) == (7, 0, None)
    assert training.anneal is not None and training.anneal.factor == 2.0
    assert training.anneal.start == ANNEAL_START  # a field left out keeps its default


def test_only_the_given_keys_are_written() -> None:
    changes = TrainingOverrides.model_validate({"lambda_e": 0, "anneal": {}})
    assert changes.model_dump() == {"lambda_e": 0.0, "anneal": {}}
    assert AttentionOverrides.model_validate({"gate": "identity"}).model_dump() == {
        "gate": {"kind": "identity"}
    }


def test_a_partial_model_can_be_limited_to_some_fields() -> None:
    limited = partial_model(TrainingSpec, include=("epochs",), name="EpochsOnly")
    assert list(limited.model_fields) == ["epochs"]
    with pytest.raises(ValueError, match="base_epochs"):
        limited.model_validate({"base_epochs": 3})


def test_the_result_is_validated_as_a_whole_with_located_issues() -> None:
    base = spec()
    with pytest.raises(SpecError) as caught:
        override(base, attention=AttentionOverrides.model_validate({"gate": {"kind": "nope"}}))
    assert [issue.location for issue in caught.value.issues] == ["attention.gate"]
    # a cross-field check: encodings need a network with encode/fuse
    with pytest.raises(SpecError) as caught:
        override(base, attention=AttentionOverrides(apply_to="encodings"))
    assert [issue.location for issue in caught.value.issues] == ["attention.apply_to"]
