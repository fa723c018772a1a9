"""Reading a spec file is bounded: size, nesting depth and YAML alias expansion.

Big and deep files are generated here rather than committed; every case must end in a
`SpecError` that names the limit (never a `RecursionError`, a `MemoryError` or a hang).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from _spec_samples import spec_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emma_plugins.core.errors import SpecError
from emma_plugins.spec import load_spec, read_spec_file
from emma_plugins.spec.load import (
    MAX_DEPTH,
    MAX_SPEC_BYTES,
    MAX_SPEC_VALUES,
    SpecLimitError,
    check_spec_shape,
)

FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def refused(path: Path, fragment: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        read_spec_file(path)
    error = caught.value
    assert [issue.location for issue in error.issues] == [""]
    assert fragment in error.issues[0].message, error.issues[0].message
    assert str(path) in str(error)
    return error


# -- nesting depth ------------------------------------------------------------------------
def nested_json(depth: int) -> str:
    return '{"a": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


def nested_yaml_flow(depth: int) -> str:
    return "a: " + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "\n"


def nested_yaml_block(depth: int) -> str:
    lines = [" " * i + "a:" for i in range(depth - 1)]
    return "\n".join(lines) + "\n" + " " * (depth - 1) + "b: 1\n"


def nested_toml_arrays(depth: int) -> str:
    return "a = " + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "\n"


def nested_toml_tables(depth: int) -> str:
    return "[" + ".".join(["a"] * (depth - 1)) + "]\nb = 1\n"


WRITERS = {
    "json": (".json", nested_json),
    "yaml-flow": (".yaml", nested_yaml_flow),
    "yaml-block": (".yaml", nested_yaml_block),
    "toml-arrays": (".toml", nested_toml_arrays),
    "toml-tables": (".toml", nested_toml_tables),
}


@pytest.mark.parametrize("style", sorted(WRITERS))
def test_a_hundred_thousand_levels_are_refused_without_recursing(
    tmp_path: Path, style: str
) -> None:
    suffix, write = WRITERS[style]
    depth = 100_000 if style != "yaml-block" else 1_000  # block YAML grows quadratically
    path = tmp_path / f"deep{suffix}"
    path.write_text(write(depth))
    refused(path, f"nested more than {MAX_DEPTH} levels deep")


@FAST
@given(style=st.sampled_from(sorted(WRITERS)), extra=st.integers(1, 200))
def test_any_depth_beyond_the_limit_is_refused(tmp_path: Path, style: str, extra: int) -> None:
    suffix, write = WRITERS[style]
    path = tmp_path / f"deep{suffix}"
    path.write_text(write(MAX_DEPTH + extra))
    refused(path, f"limited to {MAX_DEPTH} levels")


@pytest.mark.parametrize("style", sorted(WRITERS))
def test_depth_at_the_limit_is_read(tmp_path: Path, style: str) -> None:
    suffix, write = WRITERS[style]
    path = tmp_path / f"deep{suffix}"
    path.write_text(write(MAX_DEPTH))
    assert isinstance(read_spec_file(path), dict)


def test_brackets_inside_strings_and_comments_do_not_count(tmp_path: Path) -> None:
    brackets = "[{" * 200
    json_path = tmp_path / "s.json"
    json_path.write_text(json.dumps({"a": brackets, "b": 'x"' + brackets}))
    assert read_spec_file(json_path)["a"] == brackets
    toml_path = tmp_path / "s.toml"
    toml_path.write_text(
        f"# {brackets}\na = '{brackets}'\nb = \"{brackets}\"\nc = '''\n{brackets}'''\n"
        f'd = """\n{brackets}\\""""\n'
    )
    assert read_spec_file(toml_path)["a"] == brackets


# -- YAML aliases -------------------------------------------------------------------------
def alias_bomb(levels: int, width: int, key: str = "x") -> str:
    """``levels`` anchors, each a list of ``width`` uses of the previous: width**levels."""
    lines = ["spec_version: 1", f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        uses = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{uses}]")
    lines.append(f"{key}: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_in_one_kilobyte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(levels=9, width=9))
    assert path.stat().st_size < 1024
    refused(path, f"more than {MAX_SPEC_VALUES} values")


@pytest.mark.parametrize(
    "where",
    [
        "modes: [{name: a, width: 1, estimator: dae, columns: *l8}]",
        "network: {kind: mlp, hidden: *l8}",
        "training: {corruption: {per_mode: {a: *l8}}}",
        "evaluation: {seeds: *l8}",
    ],
)
def test_a_bomb_in_any_field_is_refused_at_load_time(tmp_path: Path, where: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(levels=9, width=9).rsplit("x:", 1)[0] + where + "\n")
    refused(path, "a YAML alias counts again each time it is used")


@FAST
@given(levels=st.integers(2, 12), width=st.integers(2, 12))
def test_alias_expansion_is_capped_exactly(tmp_path: Path, levels: int, width: int) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(levels, width))
    data = yaml.safe_load(path.read_text())
    # values of the last list as used by ``x`` plus everything else, counted the slow way
    # only when small enough to count.
    expanded = sum(width**k for k in range(1, levels + 1)) + 1
    if expanded * 3 < MAX_SPEC_VALUES:
        assert read_spec_file(path)["x"] == data["x"]
    elif expanded > MAX_SPEC_VALUES:
        refused(path, f"limited to {MAX_SPEC_VALUES} values")


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("spec_version: 1\na: &a [1, *a]\n")
    refused(path, "spec files cannot be recursive")


def test_shared_but_small_aliases_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "shared.yaml"
    path.write_text(
        "spec_version: 1\n"
        "modes:\n"
        "  - {name: a, width: 4, estimator: &dae {kind: dae, hidden: 3}}\n"
        "  - {name: b, width: 4, estimator: *dae}\n"
        "network: mlp\n"
    )
    spec = load_spec(path)
    assert spec.modes[0].estimator.hidden == spec.modes[1].estimator.hidden == 3  # type: ignore[attr-defined]


def test_the_shape_check_walks_python_data() -> None:
    shared = list(range(1000))
    check_spec_shape({"a": [shared] * 50})
    with pytest.raises(SpecLimitError, match="values"):
        check_spec_shape({"a": [shared] * 200})
    deep: list[object] = []
    for _ in range(MAX_DEPTH):
        deep = [deep]
    with pytest.raises(SpecLimitError, match="nested"):
        check_spec_shape({"a": deep})


# -- file size ------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".yaml", ".json", ".toml"])
def test_files_over_one_mebibyte_are_refused_before_parsing(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"big{suffix}"
    path.write_text("#" * (MAX_SPEC_BYTES + 1) if suffix != ".json" else " " * (MAX_SPEC_BYTES + 1))
    refused(path, "larger than 1048576 bytes (1 MiB)")


def test_a_spec_just_under_the_size_limit_is_read(tmp_path: Path) -> None:
    text = json.dumps(spec_dict())
    path = tmp_path / "padded.json"
    path.write_text(text + " " * (MAX_SPEC_BYTES - len(text)))
    assert load_spec(path).mode_names == ("ip", "dm_snr")
