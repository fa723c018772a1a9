"""The spec's structure: mode shapes, attention defaults, cross-field checks, round trips."""

from __future__ import annotations

from typing import Any

import pytest

from emma_plugins.core.errors import SpecError
from emma_plugins.spec import REQUIRED_SLOTS, AttentionSpec, ModeSpec, parse_spec


def minimal(**extra: Any) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "modes": [
            {"name": "img", "shape": [1, 4, 4], "estimator": "dae"},
            {"name": "tab", "width": 3, "estimator": "dae"},
            {"name": "cols", "columns": ["x", "y"], "estimator": "dae"},
        ],
        "network": "mlp",
        **extra,
    }


def test_sample_shapes_come_from_shape_width_or_columns() -> None:
    spec = parse_spec(minimal())
    assert spec.mode_shapes == ((1, 4, 4), (3,), (2,))
    assert [mode.size for mode in spec.modes] == [16, 3, 2]
    assert spec.mode_names == ("img", "tab", "cols")


def test_attention_defaults_to_the_thesis_stages() -> None:
    spec = parse_spec(minimal())
    stages = spec.attention.stages()
    assert list(stages) == list(REQUIRED_SLOTS)
    assert [c.kind for c in stages.values()] == ["min_shift", "coupled", "boltzmann", "shared_tanh"]
    assert spec.attention.apply_to == "inputs"
    assert spec.attention.enabled


def test_optional_slots_join_the_stages_in_order() -> None:
    attention = {"endogenous": "sigmoid_mask", "cross_modal": {"kind": "mha", "dim": 8}}
    spec = parse_spec(minimal(attention=attention))
    assert list(spec.attention.stages())[-2:] == ["endogenous", "cross_modal"]


def test_to_dict_round_trips_with_every_field() -> None:
    spec = parse_spec(minimal(training={"epochs": 3}))
    data = spec.to_dict()
    assert data["data"] is None and data["modes"][0]["width"] is None
    assert data["training"]["epochs"] == 3
    assert parse_spec(data).to_dict() == data


def test_explicit_none_survives_a_round_trip() -> None:
    """A None chosen on purpose must not become another default when read back."""
    spec = parse_spec(minimal(network={"kind": "mlp", "in_features": None}))
    assert parse_spec(spec.to_dict()).to_dict() == spec.to_dict()


def test_disabled_attention_skips_stage_checks() -> None:
    data = minimal(attention={"enabled": False, "energy_input": "entropy"})
    assert not parse_spec(data).attention.enabled
    with pytest.raises(SpecError, match="'entropy' is not a score"):
        parse_spec(minimal(attention={"energy_input": "entropy"}))


def test_network_may_be_left_to_python() -> None:
    data = minimal()
    del data["network"]
    assert parse_spec(data).network is None


def test_width_and_shape_must_agree() -> None:
    data = minimal()
    data["modes"][1]["shape"] = [4]
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    assert caught.value.issues[0].location == "modes[1].width"


def test_repeated_and_negative_columns_are_refused() -> None:
    data = minimal()
    data["modes"][2]["columns"] = ["x", "x"]
    with pytest.raises(SpecError, match=r"columns repeat \['x'\]"):
        parse_spec(data)
    data["modes"][2]["columns"] = [0, -1]
    with pytest.raises(SpecError, match="indices must be >= 0"):
        parse_spec(data)


def test_static_models_forbid_unknown_keys() -> None:
    assert ModeSpec.model_config.get("extra") == "forbid"
    assert AttentionSpec.model_config.get("extra") == "forbid"
