"""Every hook in `emma_plugins.core.hookspecs` is documented in docs/hooks.md, and nothing else is.

Read from the hookspecs themselves, so a new hook without documentation fails here (the
approach of datasette's documentation tests).
"""

from __future__ import annotations

import builtins
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emma_plugins.core import hookspecs

HOOKS_DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
HEADING = re.compile(r"^## (register_\w+)\((.*)\)$", re.MULTILINE)


def hookspec_functions() -> dict[str, Callable[..., Any]]:
    return {
        name: function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, f"{hookspecs.PROJECT}_spec")
    }


def documented_sections() -> dict[str, tuple[str, str]]:
    """Hook name -> (documented arguments, text of its section)."""
    text = HOOKS_DOC.read_text(encoding="utf-8")
    matches = list(HEADING.finditer(text))
    sections = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        sections[match.group(1)] = (match.group(2), text[match.end() : end])
    return sections


def context_keywords(function: Callable[..., Any]) -> list[str]:
    """The ``name`` literals after "Context keyword(s)" in a hookspec's docstring."""
    doc = inspect.getdoc(function) or ""
    found = re.search(r"Context keywords?[^:]*:(.*)", doc, re.DOTALL)
    if found is None:
        return []
    names = re.findall(r"``(\w+)``", found.group(1))
    return [name for name in names if not hasattr(builtins, name)]


def test_hooks_are_found() -> None:
    assert "register_estimators" in hookspec_functions()
    assert context_keywords(hookspecs.register_estimators) == ["shape"]
    assert context_keywords(hookspecs.register_networks) == ["mode_shapes", "out_features"]
    assert context_keywords(hookspecs.register_datasets) == []


@pytest.mark.parametrize("name", sorted(hookspec_functions()))
def test_hook_is_documented_with_its_signature(name: str) -> None:
    sections = documented_sections()
    assert name in sections, f"docs/hooks.md has no section '## {name}(...)'"
    arguments = ", ".join(inspect.signature(hookspec_functions()[name]).parameters)
    documented, body = sections[name]
    assert documented == arguments, f"docs/hooks.md documents {name}({documented})"
    assert "**Called:**" in body, f"the section of {name} does not say when it is called"
    for keyword in context_keywords(hookspec_functions()[name]):
        assert f"`{keyword}`" in body, f"the section of {name} lacks context keyword {keyword!r}"


def test_no_documented_hook_is_stale() -> None:
    stale = set(documented_sections()) - set(hookspec_functions())
    assert not stale, f"docs/hooks.md documents hooks that do not exist: {sorted(stale)}"
