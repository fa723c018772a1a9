"""Turn pydantic's validation errors into `SpecIssue`s a person can act on.

Locations are written the way the spec is (``modes[1].estimator.hidden``), without the
union tags pydantic inserts, and unknown keys come with a did-you-mean suggestion.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Discriminator, ValidationError
from pydantic_core import ErrorDetails

from emma_plugins.core.errors import SpecIssue
from emma_plugins.spec.components import CrossFieldError

_PREFIXES = ("Value error, ", "Assertion failed, ")
#: Error types whose message already says what the input was.
_INPUT_IN_MESSAGE = frozenset(
    {
        "missing",
        "extra_forbidden",
        "unknown_kind",
        "missing_kind",
        "import_path_kind",
        "value_error",
    }
)


def format_location(parts: Sequence[int | str]) -> str:
    """``("modes", 1, "estimator")`` -> ``modes[1].estimator``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def _join(prefix: str, location: str) -> str:
    if not prefix or not location:
        return prefix or location
    return prefix + location if location.startswith("[") else f"{prefix}.{location}"


def issues_from(error: ValidationError, model: type[BaseModel]) -> list[SpecIssue]:
    """Every problem of ``error``, located inside the spec that ``model`` validated."""
    issues: list[SpecIssue] = []
    for detail in error.errors(include_url=False):
        cause = (detail.get("ctx") or {}).get("error")
        loc, allowed = _walk(model, detail["loc"])
        if isinstance(cause, CrossFieldError):  # locations relative to the failing model
            issues.extend(
                SpecIssue(_join(format_location(loc), issue.location), issue.message)
                for issue in cause.issues
            )
            continue
        issues.append(SpecIssue(format_location(loc), _message(detail, loc, allowed)))
    return issues


def _message(detail: ErrorDetails, loc: list[int | str], allowed: list[str]) -> str:
    message = detail["msg"]
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    kind = detail["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        known = f" Allowed keys: {', '.join(allowed)}." if allowed else ""
        return f"unknown key {key!r}.{hint}{known}"
    if kind == "missing":
        return "required field is missing"
    value = detail.get("input")
    if (
        kind not in _INPUT_IN_MESSAGE
        and isinstance(value, str | int | float | bool)
        and value != ""
    ):
        message += f" (got {value!r})"
    return message


def _walk(model: type[BaseModel], loc: Sequence[int | str]) -> tuple[list[int | str], list[str]]:
    """Follow ``loc`` through the model's types: drop union tags, find the allowed keys.

    Returns the cleaned location and the field names of the model that holds its last part
    (empty when the location does not end inside a model).
    """
    cleaned: list[int | str] = []
    current: Any = model
    allowed: list[str] = []
    parts = list(loc)
    while parts:
        current, tagged = _unwrap(current)
        part = parts.pop(0)
        if tagged is not None and isinstance(part, str) and part in tagged:
            current = tagged[part]  # a discriminated-union tag, not a key of the spec
            continue
        cleaned.append(part)
        if isinstance(current, type) and issubclass(current, BaseModel):
            allowed = list(current.model_fields)
            field = current.model_fields.get(str(part))
            current = _field_type(field) if field is not None else None
        else:
            allowed = []
            args = get_args(current)
            current = args[-1] if args else None
    return cleaned, allowed


def _field_type(field: Any) -> Any:
    discriminator = field.discriminator or next(
        (m for m in field.metadata if isinstance(m, Discriminator)), None
    )
    if discriminator is not None:
        return Annotated[field.annotation, Discriminator("kind")]
    return field.annotation


def _unwrap(tp: Any) -> tuple[Any, dict[str, Any] | None]:
    """Strip ``Annotated`` and ``Optional``; for a discriminated union, map tag -> member."""
    discriminated = False
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            args = get_args(tp)
            discriminated = discriminated or any(isinstance(m, Discriminator) for m in args[1:])
            tp = args[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if discriminated or len(members) > 1:
                return tp, dict(_tags(members, discriminated))
            tp = members[0]
        else:
            return tp, None


def _tags(members: Sequence[Any], discriminated: bool) -> Iterator[tuple[str, Any]]:
    """The names pydantic puts in a location for each member of a union."""
    for member in members:
        if not discriminated:
            yield getattr(member, "__name__", str(member)), member
        elif isinstance(member, type) and issubclass(member, BaseModel):
            for tag in get_args(member.model_fields["kind"].annotation):
                yield str(tag), member
