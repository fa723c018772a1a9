"""The field tables of ``docs/spec.md``, generated from the JSON schema so they never drift."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from emma_plugins.core.plugins import FAMILIES, PluginHost
from emma_plugins.spec.dynamic import section_models
from emma_plugins.spec.models import AttentionSpec, EmmaSpec, ModeSpec
from emma_plugins.spec.schema import spec_json_schema
from emma_plugins.spec.sections import DataSpec, TrainingSpec
from emma_plugins.spec.union import kind_model

#: Section models in the order the reference presents them, with the key they live under.
SECTIONS: tuple[tuple[type[BaseModel], str], ...] = (
    (EmmaSpec, "top level"),
    (ModeSpec, "`modes[]`"),
    (AttentionSpec, "`attention`"),
    (DataSpec, "`data`"),
    (TrainingSpec, "`training`"),
)

_BOUNDS = (
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("exclusiveMaximum", "< {}"),
    ("minItems", "at least {} item(s)"),
    ("minLength", "at least {} character(s)"),
)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict[str, Any], kind_families: dict[str, str]) -> str:
    """A short, readable type for one JSON-schema node."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"{kind_families[name]} kind" if name in kind_families else f"`{name}`"
    if "discriminator" in schema:
        families = {kind_families.get(_ref_name(o["$ref"]), "?") for o in schema["oneOf"]}
        return " or ".join(sorted(f"{family} kind" for family in families))
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "anyOf" in schema:
        parts = [_type(s, kind_families) for s in schema["anyOf"] if s.get("type") != "null"]
        optional = any(s.get("type") == "null" for s in schema["anyOf"])
        return " or ".join(parts) + (" (optional)" if optional else "")
    kind = schema.get("type", "any")
    if kind == "array":
        if "prefixItems" in schema:
            return "list"
        return f"list of {_type(schema.get('items', {}), kind_families)}"
    return str(kind)


def _constraints(schema: dict[str, Any]) -> str:
    nodes = [schema, schema.get("items", {})]
    nodes += [s for s in schema.get("anyOf", []) if isinstance(s, dict)]
    found = [fmt.format(node[key]) for node in nodes for key, fmt in _BOUNDS if key in node]
    return ", ".join(dict.fromkeys(found))


def _default(field: dict[str, Any], required: bool, fallback: Any) -> str:
    if required:
        return "required"
    if "default" in field:
        return f"`{json.dumps(field['default'])}`"
    return f"`{json.dumps(fallback)}`" if fallback is not None else ""


def _factory_defaults(model: type[BaseModel] | None) -> dict[str, Any]:
    """Defaults made by ``default_factory``, which the JSON schema leaves out."""
    if model is None:
        return {}
    defaults = {}
    for name, field in model.model_fields.items():
        if field.default_factory is not None:
            value = field.get_default(call_default_factory=True, validated_data={})
            defaults[name] = value.model_dump() if isinstance(value, BaseModel) else value
    return defaults


def _table(
    schema: dict[str, Any],
    kind_families: dict[str, str],
    model: type[BaseModel] | None = None,
    skip: tuple[str, ...] = (),
) -> str:
    rows = ["| field | type | default | constraints | description |", "|---|---|---|---|---|"]
    required = set(schema.get("required", []))
    made = _factory_defaults(model)
    for name, field in schema.get("properties", {}).items():
        if name in skip:
            continue
        description = " ".join(field.get("description", "").split()).replace("|", "\\|")
        default = _default(field, name in required, made.get(name))
        rows.append(
            f"| `{name}` | {_type(field, kind_families)} | {default} "
            f"| {_constraints(field)} | {description} |"
        )
    return "\n".join(rows)


def _first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def spec_reference_markdown(host: PluginHost | None = None) -> str:
    """Markdown tables of every section and of every kind registered in ``host``.

    The committed reference uses a host without entry points (built-in kinds only), so it
    does not depend on which plugins happen to be installed.
    """
    host = host or PluginHost(autoload=False)
    schema = spec_json_schema(host)
    defs = schema["$defs"]
    kind_families: dict[str, str] = {}
    for family in FAMILIES:
        for entry in host.registry(family):
            kind_families[kind_model(family, entry).__name__] = family
    parts = ["### Sections"]
    plugin_sections = [(model, f"`{name}`") for name, model in section_models(host).items()]
    for model, key in (*SECTIONS, *plugin_sections):
        section = schema if model is EmmaSpec else defs[model.__name__]
        doc = _first_paragraph(model.__doc__)
        parts += [f"#### {key}", doc, _table(section, kind_families, model)]
    parts.append("### Kinds")
    for family in FAMILIES:
        entries = [e for e in host.registry(family) if kind_model(family, e).__name__ in defs]
        if not entries:
            continue
        parts.append(f"#### {family} kinds")
        for entry in entries:
            model_of_kind = kind_model(family, entry)
            kind_schema = model_of_kind.model_json_schema()
            parts.append(f"##### `{entry.kind}` ({entry.provider})")
            parts.append(_first_paragraph(entry.factory.__doc__))
            if set(kind_schema.get("properties", {})) - {"kind"}:
                parts.append(_table(kind_schema, kind_families, model_of_kind, skip=("kind",)))
            else:
                parts.append("No parameters.")
    return "\n\n".join(part for part in parts if part) + "\n"
