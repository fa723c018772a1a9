"""The grid's JSON-lines log: durable appends, a cut last line dropped, damage refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from emma_lab.grid.log import GridLog

from emma_plugins.core.errors import EmmaError


def test_appended_records_read_back_in_order(tmp_path: Path) -> None:
    log = GridLog(tmp_path / "sub" / "grid.jsonl")
    assert log.read() == []
    log.append({"key": "a", "value": 1.5})
    log.append({"key": "b", "nested": {"z": 1, "a": [1, 2]}})
    assert log.read() == [{"key": "a", "value": 1.5}, {"key": "b", "nested": {"z": 1, "a": [1, 2]}}]
    assert log.path.read_text().count("\n") == 2


def test_a_cut_last_line_is_dropped_and_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "grid.jsonl"
    path.write_text(json.dumps({"key": "a"}) + "\n" + '{"key": "b", "val')
    log = GridLog(path)
    assert log.read() == [{"key": "a"}]
    log.append({"key": "c"})
    assert log.read() == [{"key": "a"}, {"key": "c"}]


def test_a_complete_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "grid.jsonl"
    path.write_text(json.dumps({"key": "a"}))
    log = GridLog(path)
    assert log.read() == [{"key": "a"}]
    log.append({"key": "b"})
    assert log.read() == [{"key": "a"}, {"key": "b"}]


def test_damage_before_the_last_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "grid.jsonl"
    path.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n')
    with pytest.raises(EmmaError, match="line 2"):
        GridLog(path).read()
    path.write_text("[1, 2]\n")
    with pytest.raises(EmmaError, match="not a JSON object"):
        GridLog(path).read()
