"""Spec files: versioned, validated descriptions of an EMMA model and its experiment.

``load_spec(path)`` reads YAML, TOML or JSON; ``parse_spec(mapping)`` validates a mapping.
Component kinds are checked against the registries after plugins load, so a kind from a
third-party plugin validates with its own parameters.
"""

from emma_plugins.spec.components import ComponentSpec, Family
from emma_plugins.spec.dynamic import spec_model
from emma_plugins.spec.load import load_spec, parse_spec, read_spec_file
from emma_plugins.spec.models import (
    OPTIONAL_SLOTS,
    REQUIRED_SLOTS,
    SLOTS,
    SPEC_VERSION,
    AttentionSpec,
    EmmaSpec,
    ModeSpec,
)
from emma_plugins.spec.paths import DataPath, check_data_path, resolve_data_path
from emma_plugins.spec.schema import spec_json_schema
from emma_plugins.spec.sections import DataSpec, TrainingSpec

__all__ = [
    "OPTIONAL_SLOTS",
    "REQUIRED_SLOTS",
    "SLOTS",
    "SPEC_VERSION",
    "AttentionSpec",
    "ComponentSpec",
    "DataPath",
    "DataSpec",
    "EmmaSpec",
    "Family",
    "ModeSpec",
    "TrainingSpec",
    "check_data_path",
    "load_spec",
    "parse_spec",
    "read_spec_file",
    "resolve_data_path",
    "spec_json_schema",
    "spec_model",
]
