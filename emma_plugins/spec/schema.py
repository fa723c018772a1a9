"""The JSON schema of spec files, for editors and the spec reference."""

from __future__ import annotations

from typing import Any

from emma_plugins.core.plugins import PluginHost
from emma_plugins.spec.dynamic import spec_model

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def spec_json_schema(host: PluginHost | None = None) -> dict[str, Any]:
    """The JSON schema of a spec, with every kind ``host``'s plugins registered."""
    schema = spec_model(host).model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "title": "EMMA spec"}
