"""The grid's JSON-lines log: durable appends, a cut last line dropped, damage refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from emma_lab.grid.search import record_problem
from emma_lab.joblog import JobLog

from emma_plugins.core.errors import EmmaError


def test_appended_records_read_back_in_order(tmp_path: Path) -> None:
    log = JobLog(tmp_path / "sub" / "grid.jsonl")
    assert log.read() == []
    log.append({"key": "a", "value": 1.5})
    log.append({"key": "b", "nested": {"z": 1, "a": [1, 2]}})
    assert log.read() == [{"key": "a", "value": 1.5}, {"key": "b", "nested": {"z": 1, "a": [1, 2]}}]
    assert log.path.read_text().count("\n") == 2


def test_a_cut_last_line_is_dropped_and_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "grid.jsonl"
    path.write_text(json.dumps({"key": "a"}) + "\n" + '{"key": "b", "val')
    log = JobLog(path)
    assert log.read() == [{"key": "a"}]
    log.append({"key": "c"})
    assert log.read() == [{"key": "a"}, {"key": "c"}]


def test_a_complete_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "grid.jsonl"
    path.write_text(json.dumps({"key": "a"}))
    log = JobLog(path)
    assert log.read() == [{"key": "a"}]
    log.append({"key": "b"})
    assert log.read() == [{"key": "a"}, {"key": "b"}]


def test_damage_before_the_last_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "grid.jsonl"
    path.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n')
    with pytest.raises(EmmaError, match="line 2"):
        JobLog(path).read()
    path.write_text("[1, 2]\n")
    with pytest.raises(EmmaError, match="not a JSON object"):
        JobLog(path).read()


def test_a_folder_in_place_of_the_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "grid.jsonl"
    path.mkdir()
    for action in (JobLog(path).read, lambda: JobLog(path).append({"key": "a"})):
        with pytest.raises(EmmaError, match=r"grid\.jsonl is not a file"):
            action()


def test_bytes_that_are_not_utf8_before_the_last_line_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "grid.jsonl"
    path.write_bytes(b'{"key": "a"}\n\xff\xfe\n{"key": "b"}\n')
    with pytest.raises(EmmaError, match="line 2"):
        JobLog(path).read()


SELECT = {
    "fingerprint": "f",
    "kind": "select",
    "key": "k",
    "rho": 0.1,
    "lambda_e": 0.0,
    "lambda_c": 1e-3,
    "seed": 7,
    "val_loss": 0.5,
    "val_metric": 0.9,
}
RERUN = {
    "fingerprint": "f",
    "kind": "rerun",
    "seed": 0,
    "configs": ["k"],
    "scores": [{"model": "emma"}],
    "diagnostics": [],
}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**SELECT, "seed": "7"}, "field 'seed' must be an integer, got '7'"),
        ({**SELECT, "val_loss": "low"}, "field 'val_loss' must be a number"),
        ({**SELECT, "rho": True}, "field 'rho' must be a number"),
        ({**SELECT, "fingerprint": 3}, "field 'fingerprint' must be a string"),
        ({**SELECT, "kind": "other"}, "field 'kind' must be 'select' or 'rerun'"),
        (
            {k: v for k, v in SELECT.items() if k != "key"},
            "a select record without the field 'key'",
        ),
        ({**RERUN, "configs": "k"}, "field 'configs' must be a list of strings"),
        ({**RERUN, "scores": [1]}, "field 'scores' must be a list of objects"),
    ],
)
def test_records_of_the_wrong_type_name_the_file_and_line(
    tmp_path: Path, record: dict[str, object], message: str
) -> None:
    path = tmp_path / "grid.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (SELECT, RERUN, record)) + "\n")
    assert record_problem(SELECT) is None and record_problem(RERUN) is None
    with pytest.raises(EmmaError) as caught:
        JobLog(path).read(check=record_problem)
    assert str(caught.value).startswith(f"{path}: line 3: {message}")


def test_a_full_disk_names_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    log = JobLog(tmp_path / "grid.jsonl")
    with pytest.raises(OSError) as caught:
        log.append({"key": "a"})
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(log.path)
