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

from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo

from ..plugins import FAMILIES, PluginHost, plugin_host
from ..registry import Registration
from .components import Family
from .models import EmmaSpec
from .union import kind_union

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
    key: _CacheKey = tuple((family, tuple(host.registry(family))) for family in FAMILIES)
    cached = _cache.get(host)
    if cached is not None and cached[0] == key:
        return cached[1]
    unions = {family: kind_union(host.registry(family)) for family in FAMILIES}
    model = _Rebuilder(unions).model(EmmaSpec)
    _cache[host] = (key, model)
    return model


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
