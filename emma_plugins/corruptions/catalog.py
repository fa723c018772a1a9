"""Build a corruption from a registered kind, built-in or from a plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emma_plugins.core.contracts import check_component
from emma_plugins.core.plugins import get_registry
from emma_plugins.corruptions.base import Corruption, CorruptionError


def make_corruption(spec: Corruption | str | Mapping[str, Any]) -> Corruption:
    """A `Corruption` from an instance, a kind name, or ``{"kind": ..., **params}``."""
    if isinstance(spec, Corruption):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise CorruptionError(
            f"A corruption must be a Corruption, a kind name or a mapping with a 'kind' key, "
            f"got {spec!r}."
        )
    params = {k: v for k, v in spec.items() if k != "kind"}
    registry = get_registry("corruption")
    registration = registry.get(str(spec["kind"]))
    built = registration.build(params)
    if not isinstance(built, Corruption):
        raise CorruptionError(
            f"corruption kind {spec['kind']!r} built {type(built).__name__}, not a Corruption."
        )
    check_component(
        "corruption",
        built,
        kind=registration.kind,
        provider=registration.provider,
        label=registry.label,
    )
    return built
