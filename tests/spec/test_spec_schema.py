"""The exported JSON schema lists every registered kind as a discriminated union."""

from __future__ import annotations

import json

from emma_plugins.core.plugins import PluginHost, get_registry
from emma_plugins.spec import spec_json_schema


def test_schema_has_a_discriminated_union_per_component_field() -> None:
    schema = spec_json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["title"] == "EMMA spec"
    estimator = schema["$defs"]["ModeSpec"]["properties"]["estimator"]
    assert estimator["discriminator"]["propertyName"] == "kind"
    assert set(estimator["discriminator"]["mapping"]) == set(get_registry("estimator").kinds())
    assert schema["additionalProperties"] is False
    json.dumps(schema)  # serialisable as is


def test_schema_carries_each_kinds_parameters() -> None:
    defs = spec_json_schema(PluginHost(autoload=False))["$defs"]
    dae = defs["DaeEstimator"]
    assert dae["properties"]["kind"]["const"] == "dae"
    assert dae["properties"]["hidden"]["minimum"] == 1
    assert dae["additionalProperties"] is False
    assert "GaussianEstimator" not in defs
