"""Derive the validating spec model from the static one and the registries of a plugin host.

Every field marked ``Family("<family>")`` becomes that family's discriminated union; models
that contain such fields, at any depth, are re-created as subclasses with the new field
types, so validators, defaults and docs carry over and ``isinstance(spec, EmmaSpec)`` holds.
The result is cached per host and per registry content.
"""

from __future__ import annotations

import types
import typing
import weakref
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo

from emma_plugins.core.errors import ContractError
from emma_plugins.core.plugins import FAMILIES, PluginHost, plugin_host
from emma_plugins.core.registry import Registration
from emma_plugins.spec.components import Family
from emma_plugins.spec.models import EmmaSpec
from emma_plugins.spec.union import kind_union

ModelT = TypeVar("ModelT", bound=BaseModel)

_CacheKey = tuple[tuple[str, tuple[Registration, ...]], ...]
_cache: weakref.WeakKeyDictionary[PluginHost, tuple[_CacheKey, type[EmmaSpec]]] = (
    weakref.WeakKeyDictionary()
)


def spec_model(host: PluginHost | None = None) -> type[EmmaSpec]:
    """The `EmmaSpec` subclass that validates kinds against ``host``'s registries.

    ``host`` defaults to the process-wide plugin host (built-ins plus installed plugins).
    """
    host = host or plugin_host()
    families = (*FAMILIES, "spec_section")
    key: _CacheKey = tuple((family, tuple(host.registry(family))) for family in families)
    cached = _cache.get(host)
    if cached is not None and cached[0] == key:
        return cached[1]
    rebuilder = _Rebuilder({family: kind_union(host.registry(family)) for family in FAMILIES})
    model: type[EmmaSpec] = rebuilder.model(EmmaSpec)
    sections = {
        name: _section_field(rebuilder.model(section))
        for name, section in section_models(host).items()
    }
    if sections:
        model = create_model(  # type: ignore[call-overload]
            EmmaSpec.__name__,
            __base__=model,
            __module__=EmmaSpec.__module__,
            __doc__=EmmaSpec.__doc__,
            **sections,
        )
    _cache[host] = (key, model)
    return model


def section_models(host: PluginHost) -> dict[str, type[BaseModel]]:
    """Top-level sections that plugins registered (``register_spec_sections``), by name."""
    sections: dict[str, type[BaseModel]] = {}
    for entry in host.registry("spec_section"):
        model = entry.factory
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ContractError(
                f"spec section {entry.kind!r} from {entry.provider!r} must be registered as a "
                f"pydantic BaseModel subclass, got {model!r}."
            )
        sections[entry.kind] = model
    return sections


def _section_field(section: type[BaseModel]) -> tuple[Any, Any]:
    """An optional top-level field for a plugin's section, described by its docstring."""
    summary = (section.__doc__ or section.__name__).strip().splitlines()[0]
    return (section | None, Field(None, description=f"{summary} (optional)."))


class _Rebuilder:
    def __init__(self, unions: dict[str, Any]) -> None:
        self.unions = unions
        self.memo: dict[type[BaseModel], type[BaseModel]] = {}

    def model(self, cls: type[ModelT]) -> type[ModelT]:
        if cls not in self.memo:
            self.memo[cls] = cls  # guards recursive models
            changed: dict[str, Any] = {}
            for name, field in cls.model_fields.items():
                new = self.field(field)
                if new is not None:
                    changed[name] = new
            if changed:
                self.memo[cls] = create_model(
                    cls.__name__,
                    __base__=cls,
                    __module__=cls.__module__,
                    __doc__=cls.__doc__,
                    **changed,
                )
        return self.memo[cls]  # type: ignore[return-value]

    def field(self, field: FieldInfo) -> tuple[Any, FieldInfo] | None:
        family = next((m.family for m in field.metadata if isinstance(m, Family)), None)
        annotation = self.unions[family] if family else self.type(field.annotation)
        if annotation is field.annotation:
            return None
        rest = FieldInfo.merge_field_infos(field)
        rest.metadata = [m for m in rest.metadata if not isinstance(m, Family)]
        return annotation, rest

    def type(self, tp: Any) -> Any:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return self.model(tp)
        origin, args = get_origin(tp), get_args(tp)
        if origin is None or origin is Literal or not args:
            return tp
        if origin is Annotated:
            family = next((m.family for m in args[1:] if isinstance(m, Family)), None)
            if family:
                return self.unions[family]
            inner = self.type(args[0])
            return tp if inner is args[0] else Annotated[(inner, *args[1:])]
        new_args = tuple(a if a is Ellipsis else self.type(a) for a in args)
        if all(a is b for a, b in zip(new_args, args, strict=True)):
            return tp
        if origin in (Union, types.UnionType):
            return Union[new_args]  # noqa: UP007
        return typing.cast(Any, origin)[new_args if len(new_args) > 1 else new_args[0]]
