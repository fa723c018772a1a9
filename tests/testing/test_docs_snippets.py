"""The conformance-kit snippets of docs/plugins.md run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from emma_plugins.testing import kind_checks, registered_estimator_kinds

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def snippet(defines: str) -> str:
    (code,) = [block for block in BLOCK.findall(GUIDE.read_text("utf-8")) if defines in block]
    return code


def parameter_sets(function: Any) -> list[tuple[Any, ...]]:
    """The argument tuples of a function's ``pytest.mark.parametrize`` mark."""
    (mark,) = [m for m in function.pytestmark if m.name == "parametrize"]
    values = mark.args[1]
    return [tuple(v.values) if hasattr(v, "values") else (v,) for v in values] if values else []


def test_run_the_kit_over_every_installed_estimator_snippet() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(snippet("def test_estimator_contract"), str(GUIDE), "exec"), namespace)
    test = namespace["test_estimator_contract"]
    kinds = [args[0] for args in parameter_sets(test)]
    assert kinds == registered_estimator_kinds()
    for kind in kinds:
        test(kind)


def test_parametrize_with_checks_snippet_collects_every_gate_check() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(snippet("def test_gate_conformance"), str(GUIDE), "exec"), namespace)
    test = namespace["test_gate_conformance"]
    pairs = parameter_sets(test)
    assert [(ref, check.name) for ref, check in pairs] == [
        (ref, check.name) for ref, check in kind_checks("gate")
    ]
    ref, check = pairs[0]
    test(ref, check)
