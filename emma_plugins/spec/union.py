"""Per-family discriminated unions on ``kind``, built from a registry after plugins load."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field
from pydantic_core import PydanticCustomError

from emma_plugins.core.registry import Registration, Registry
from emma_plugins.spec.components import SPEC_MODEL_CONFIG, ComponentSpec

#: What a Python import target looks like: ``pkg.module.Class`` or ``pkg.module:obj``.
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*([.:][A-Za-z_][\w]*)+$")


def _class_name(family: str, kind: str) -> str:
    words = re.split(r"[^0-9A-Za-z]+", f"{kind} {family}")
    return "".join(word[:1].upper() + word[1:] for word in words if word)


@cache
def kind_model(family: str, registration: Registration) -> type[ComponentSpec]:
    """The spec model of one kind: its parameter model plus ``kind: Literal[<kind>]``.

    Subclassing the plugin's parameter model keeps its validators and field docs; the
    registration rides along so later checks can reach the factory. The spec's config
    applies on top of the plugin's: unknown keys are errors and floats must be finite (a
    field declared ``Field(allow_inf_nan=True)`` keeps accepting them).
    """
    namespace: dict[str, Any] = {
        "__annotations__": {"kind": Literal[registration.kind]},
        "kind": Field(description=f"'{registration.kind}' ({family} from {registration.provider})"),
        "model_config": ConfigDict(**SPEC_MODEL_CONFIG, title=f"{family} {registration.kind}"),
        "registration": registration,
        "__module__": __name__,
        "__doc__": registration.params.__doc__,
    }
    bases = (registration.params, ComponentSpec)
    model: type[ComponentSpec] = type(_class_name(family, registration.kind), bases, namespace)
    return model


def _normalise(registry: Registry, value: Any) -> Any:
    """Accept ``"kind"`` as shorthand for ``{kind: "kind"}``, and explain unknown kinds."""
    if isinstance(value, str):
        value = {"kind": value}
    if isinstance(value, ComponentSpec) and type(value).registration is None:
        value = value.model_dump()
    if isinstance(value, BaseModel) or not isinstance(value, dict):
        return value
    available = ", ".join(registry.kinds()) or "(none installed)"
    if "kind" not in value:
        raise PydanticCustomError(
            "missing_kind",
            "{message}",
            {"message": f"missing 'kind': name a registered {registry.label} ({available})"},
        )
    kind = value["kind"]
    if not isinstance(kind, str):
        raise PydanticCustomError(
            "kind_type",
            "{message}",
            {"message": f"'kind' must be a string naming a {registry.label} ({available})"},
        )
    if kind in registry:
        return value
    if _IMPORT_PATH.match(kind):
        raise PydanticCustomError(
            "import_path_kind",
            "{message}",
            {
                "message": f"kind {kind!r} looks like a Python import path. Spec files never "
                f"import code: kinds resolve only through the {registry.label} registry "
                f"(available: {available}). Register your component from a plugin (see "
                "docs/plugins.md), or pass a network object in Python with "
                "build(spec, network=...)."
            },
        )
    hint = " A kind from a plugin needs that plugin installed; `emma plugins` lists the kinds."
    raise PydanticCustomError(
        "unknown_kind", "{message}", {"message": registry.unknown_message(kind) + hint}
    )


def kind_union(registry: Registry) -> Any:
    """The type of a component field of ``registry``'s family."""
    members = tuple(kind_model(registry.family, entry) for entry in registry)
    check = BeforeValidator(lambda value: _normalise(registry, value))
    if not members:
        return Annotated[ComponentSpec, check]  # every kind is unknown: _normalise says so
    if len(members) == 1:
        return Annotated[members[0], check]
    return Annotated[Union[members], Discriminator("kind"), check]  # noqa: UP007
