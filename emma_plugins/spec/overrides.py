"""Typed overrides: a spec derived from a validated one by changing a few of its values.

A variant, a baseline or a grid point of an experiment is its spec with some sections
changed. The change is typed and validated where it is written, and the derived spec is
validated once, as a whole, by the same model that validated the original (cross-field
checks included):

* `ComponentPatch` changes one component (``{kind: ..., **params}``): a new ``kind``
  replaces the component whole, so the old kind's parameters do not leak into it;
  without a new kind only the given parameters change.
* `AttentionOverrides` and `TrainingOverrides` are partial versions of `AttentionSpec`
  and `TrainingSpec` (`partial_model`): every field optional, with the section's own
  constraints, so ``epochs: -5`` or ``lr: abc`` fail at the key that holds them. A field
  given as ``null`` is set to ``None``; a field left out keeps the spec's value.
* `override` applies them to a spec.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    create_model,
    model_serializer,
    model_validator,
)

from emma_plugins.core.errors import SpecError
from emma_plugins.spec.components import SPEC_MODEL_CONFIG, ComponentSpec, Family
from emma_plugins.spec.issues import issues_from
from emma_plugins.spec.models import DERIVED, AttentionSpec, EmmaSpec
from emma_plugins.spec.sections import TrainingSpec


class _Changes(BaseModel):
    """Writes only the keys that were given, so an override reads back as the same one."""

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        given = self.model_fields_set | set(self.model_extra or {})
        return {key: value for key, value in data.items() if key in given}


class ComponentPatch(_Changes):
    """A change to one component: a new ``kind`` (the component is replaced whole) and/or
    parameters to set; a kind name alone is short for ``{kind: name}``."""

    model_config = ConfigDict(extra="allow")

    kind: str | None = Field(
        None, min_length=1, description="A new kind; omitted: keep the component's kind."
    )

    @model_validator(mode="before")
    @classmethod
    def _kind_name(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    def params(self) -> dict[str, Any]:
        """The parameters to set, without ``kind``."""
        return dict(self.model_extra or {})

    def applied_to(self, component: ComponentSpec | None) -> ComponentSpec | dict[str, Any]:
        """The patched component, to be validated against its family (unchanged: as is)."""
        own = self.params()
        if component is not None and self.kind in (None, component.kind):
            if not own:
                return component
            return {"kind": component.kind, **_merged(component.params(), own)}
        return own if self.kind is None else {"kind": self.kind, **own}


def _merged(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Plain parameter values: ``patch`` over ``base``, nested mappings merged."""
    out = dict(base)
    for key, value in patch.items():
        old = out.get(key)
        both = isinstance(old, Mapping) and isinstance(value, Mapping)
        out[key] = _merged(old, value) if both else value  # type: ignore[arg-type]
    return out


class _Partial(_Changes):
    """Base of the models `partial_model` derives; ``source`` is the model they patch."""

    model_config = SPEC_MODEL_CONFIG

    source: ClassVar[type[BaseModel]]

    def applied_to(self, section: BaseModel | None) -> dict[str, Any]:
        """``section``'s values with the given fields changed, to be validated as the
        section (values that did not change stay validated objects)."""
        values: dict[str, Any] = dict(section) if section is not None else {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if isinstance(value, _Partial | ComponentPatch):
                value = value.applied_to(values.get(name))
            elif value is not None:
                value = self.model_dump(mode="python", include={name})[name]
            values[name] = value
        return values


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _optional_model(tp: Any) -> type[BaseModel] | None:
    """``M`` for a field typed ``M`` or ``M | None`` (a nested section), else ``None``."""
    if _is_model(tp):
        return tp
    if get_origin(tp) in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if len(members) == 1 and _is_model(members[0]):
            return members[0]
    return None


@cache
def _partial(model: type[BaseModel], include: tuple[str, ...] | None, name: str) -> type[_Partial]:
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if include is not None and field_name not in include:
            continue
        nested = _optional_model(info.annotation)
        if any(isinstance(m, Family) for m in info.metadata):
            annotation: Any = ComponentPatch
        elif nested is not None and not issubclass(nested, ComponentSpec):
            annotation = partial_model(nested)
        else:
            annotation = _constrained(info)
        fields[field_name] = (annotation | None, Field(None, description=info.description))
    partial = create_model(
        name,
        __base__=_Partial,
        __module__=__name__,
        __doc__=f"Changes to {model.__name__}: any of its fields, the others kept.",
        **fields,
    )
    partial.source = model
    return partial


def _constrained(info: Any) -> Any:
    """The field's type with its constraints (``ge``, ``gt``, ...) attached."""
    return Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation


def partial_model(
    model: type[BaseModel], *, include: Sequence[str] | None = None, name: str | None = None
) -> type[_Partial]:
    """A model of changes to ``model``: each field (of ``include``, default all) optional,
    typed and constrained as in ``model``; nested sections are partial too, component
    fields are `ComponentPatch`. Instances have ``applied_to(section)``."""
    chosen = tuple(include) if include is not None else None
    return _partial(model, chosen, name or f"{model.__name__.removesuffix('Spec')}Overrides")


#: Changes to the attention section: ``enabled``, ``apply_to``, ... and one patch per slot.
AttentionOverrides = partial_model(AttentionSpec, name="AttentionOverrides")
#: Changes to the training section.
TrainingOverrides = partial_model(TrainingSpec, name="TrainingOverrides")


def override(
    spec: EmmaSpec,
    *,
    attention: _Partial | None = None,
    training: _Partial | None = None,
    network: ComponentPatch | None = None,
    source: str | None = None,
) -> EmmaSpec:
    """``spec`` with the overrides applied, validated once as a whole by ``spec``'s model.

    Raises `SpecError` whose issues are located in the derived spec (``attention.gate``).
    """
    data = dict(spec)
    if attention is not None:
        data["attention"] = attention.applied_to(spec.attention)
    if training is not None:
        data["training"] = training.applied_to(spec.training)
    if network is not None:
        data["network"] = network.applied_to(spec.network)
    model = type(spec)
    try:
        return model.model_validate(data, context={DERIVED: True})
    except ValidationError as exc:
        issues = issues_from(exc, model)
        lines = "\n".join(f"  {issue}" for issue in issues)
        name = source or "derived spec"
        raise SpecError(f"{name}: invalid spec\n{lines}", issues=issues, source=source) from None
