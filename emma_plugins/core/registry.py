"""One `Registry` per component family: kinds map to factories and their parameter models."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from emma_plugins.core.contracts import check_factory
from emma_plugins.core.errors import DuplicateKindError, UnknownKindError


class NoParams(BaseModel):
    """Parameter model of a component that takes no parameters."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Registration:
    """What a plugin registered: a kind, how to build it, its parameters and who provided it."""

    kind: str
    factory: Callable[..., Any]
    params: type[BaseModel]
    provider: str

    def build(self, params: BaseModel | dict[str, Any] | None = None, **context: Any) -> Any:
        """Validate `params` against the parameter model and call the factory.

        The factory receives the parameter fields plus the family's context keywords
        (documented on each hook in `emma_plugins.core.hookspecs`).
        """
        if params is None:
            params = {}
        if isinstance(params, BaseModel):
            params = params.model_dump()
        params = {k: v for k, v in params.items() if k != "kind"}
        validated = self.params.model_validate(params)
        values = {k: getattr(validated, k) for k in type(validated).model_fields if k != "kind"}
        return self.factory(**values, **context)


class Registry:
    """Kinds of one component family (estimators, gates, networks, ...).

    A duplicate kind is an error naming both providers; an unknown kind is an error with a
    did-you-mean suggestion and the available kinds. A factory that is a class and lacks a
    method its family's contract requires (`emma_plugins.core.contracts`) is refused with
    a `ContractError`.
    """

    def __init__(self, family: str, label: str | None = None) -> None:
        self.family = family
        self.label = label or family
        self._entries: dict[str, Registration] = {}

    def add(
        self,
        kind: str,
        factory: Callable[..., Any],
        params: type[BaseModel] | None = None,
        *,
        provider: str = "<unknown>",
    ) -> Registration:
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"A {self.label} kind must be a non-empty string, got {kind!r}.")
        if not callable(factory):
            raise TypeError(
                f"The factory of {self.label} kind {kind!r} must be callable (a class or a "
                f"function), got {type(factory).__name__}."
            )
        if params is not None and not (isinstance(params, type) and issubclass(params, BaseModel)):
            raise TypeError(
                f"The params of {self.label} kind {kind!r} must be a pydantic BaseModel subclass "
                f"(or None when it takes no parameters), got {params!r}."
            )
        check_factory(self.family, factory, kind=kind, provider=provider, label=self.label)
        if kind in self._entries:
            first = self._entries[kind].provider
            raise DuplicateKindError(
                f"Duplicate {self.label} kind {kind!r}: registered by {first!r} and again by "
                f"{provider!r}. Rename one of them or uninstall one provider."
            )
        entry = Registration(kind, factory, params or NoParams, provider)
        self._entries[kind] = entry
        return entry

    def get(self, kind: str) -> Registration:
        try:
            return self._entries[kind]
        except KeyError:
            raise UnknownKindError(self.unknown_message(kind)) from None

    def unknown_message(self, kind: object) -> str:
        available = self.kinds()
        message = f"Unknown {self.label} {kind!r}."
        close = difflib.get_close_matches(str(kind), available, n=1, cutoff=0.5)
        if close:
            message += f" Did you mean {close[0]!r}?"
        message += f" Available: {', '.join(available) if available else '(none)'}."
        return message

    def kinds(self) -> list[str]:
        return sorted(self._entries)

    def remove(self, kind: str) -> None:
        """Forget a kind (for tests and for plugins that replace one another on purpose)."""
        self._entries.pop(kind, None)

    def __contains__(self, kind: object) -> bool:
        return kind in self._entries

    def __iter__(self) -> Iterator[Registration]:
        return iter(self._entries[k] for k in self.kinds())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, kinds={self.kinds()})"
