"""Mutated specs never crash the CLI: `emma validate` and `emma build` exit 0 or 2 with a
message, never a traceback, and write nothing.

Each example takes a valid spec and changes one value somewhere inside it (wrong types,
signs, NaN and infinities, huge numbers, deep nesting, path-like names), or drops or adds a
key, then writes it as YAML or JSON.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from _spec_samples import HTRU2_YAML
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emma_plugins.cli import main

BASE: dict[str, Any] = yaml.safe_load(HTRU2_YAML.read_text())

HOSTILE_VALUES = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            -1,
            0,
            10**12,
            2**63,
            -(10**9),
            math.nan,
            math.inf,
            -math.inf,
            1e308,
            -0.0,
            "",
            "x/../../../ESCAPED",
            "../../etc/passwd",
            "/etc",
            "a" * 5000,
            "mypkg.module.Class",
            "\x00",
            [],
            [1, 2, 3],
            {},
            {"kind": "dae"},
        ]
    ),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.integers(min_value=50, max_value=400).map(lambda depth: _nested(depth)),
)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside the spec (dict keys and list indices)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


PATHS = _paths(BASE)

#: Each example writes files and runs the CLI: no deadline, and the fixtures are per test.
FUZZ_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    path = draw(st.sampled_from(PATHS))
    parent = spec
    for step in path[:-1]:
        parent = parent[step]
    action = draw(st.sampled_from(["replace", "replace", "replace", "drop", "add"]))
    last = path[-1]
    if action == "drop":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=12))] = draw(HOSTILE_VALUES)
    else:
        parent[last] = draw(HOSTILE_VALUES)
    return spec


def _write(spec: dict[str, Any], folder: Path, as_json: bool) -> Path | None:
    if as_json:
        try:
            text = json.dumps(spec)
        except (ValueError, RecursionError):
            return None
        path = folder / "spec.json"
    else:
        try:
            text = yaml.safe_dump(spec)
        except (yaml.YAMLError, RecursionError):
            return None
        path = folder / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def check_mutated_spec(
    spec: dict[str, Any],
    as_json: bool,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Validate, then build when valid: exit 0 or 2 with a message, and no file written."""
    folder = tmp_path_factory.mktemp("fuzz")
    path = _write(spec, folder, as_json)
    if path is None:
        return
    monkeypatch.chdir(folder)
    before = sorted(os.listdir(folder))
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 2)
    assert "Traceback" not in out + err
    if code == 2:
        assert err.strip(), "an invalid spec must say why"
    else:
        built = main(["build", str(path)])
        _, err = capsys.readouterr()
        assert built in (0, 2)
        assert built == 0 or err.startswith("error: ")
    assert sorted(os.listdir(folder)) == before


@settings(max_examples=50, **FUZZ_SETTINGS)
@given(spec=mutated_specs(), as_json=st.booleans())
def test_mutated_specs_exit_0_or_2_with_a_message_and_write_nothing(
    spec: dict[str, Any],
    as_json: bool,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check_mutated_spec(spec, as_json, tmp_path_factory, capsys, monkeypatch)


@pytest.mark.slow
@settings(max_examples=1500, **FUZZ_SETTINGS)
@given(spec=mutated_specs(), as_json=st.booleans())
def test_many_mutated_specs_exit_0_or_2(
    spec: dict[str, Any],
    as_json: bool,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same property over many more specs, in the slow run (`pytest -m slow`)."""
    check_mutated_spec(spec, as_json, tmp_path_factory, capsys, monkeypatch)
