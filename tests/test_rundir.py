"""Output directories: checked first, locked per run, described by run.json, and the root
that names from spec values cannot leave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins.rundir import (
    LOCK_NAME,
    MANIFEST_NAME,
    DirectoryLockedError,
    OutputDirError,
    RunLock,
    check_output_dir,
    fingerprint,
    inside,
    read_manifest,
    run_directory,
)


def test_fingerprint_ignores_key_order() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert len(fingerprint({})) == 64


def test_a_file_or_an_unwritable_place_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(OutputDirError, match="is a file, not a directory"):
        check_output_dir(file)
    with pytest.raises(OutputDirError, match="cannot be written"):
        check_output_dir(file / "below")
    assert check_output_dir(tmp_path / "new" / "dir").is_dir()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anyway")
def test_a_read_only_directory_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o500)
    with pytest.raises(OutputDirError, match="cannot be written"):
        check_output_dir(locked)


_HOLD = textwrap.dedent(
    """
    import sys, time
    from emma_plugins.rundir import RunLock
    RunLock(sys.argv[1]).acquire()
    print("locked", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.slow  # a second interpreter holds the lock and is killed: runs with -m slow
def test_a_locked_directory_names_the_holder_and_frees_after_sigkill(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(DirectoryLockedError) as caught:
            RunLock(tmp_path).acquire()
        assert caught.value.holder == holder.pid
        assert f"PID {holder.pid}" in str(caught.value) and str(tmp_path) in str(caught.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with RunLock(tmp_path) as lock:  # the OS dropped the dead holder's lock
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    assert lock._fd is None


def test_a_second_lock_in_the_same_process_is_refused_too(tmp_path: Path) -> None:
    with RunLock(tmp_path), pytest.raises(DirectoryLockedError):
        RunLock(tmp_path).acquire()


def _manifest(directory: Path) -> dict[str, object]:
    return json.loads((directory / MANIFEST_NAME).read_text())


def test_the_manifest_is_written_first_and_last(tmp_path: Path) -> None:
    with run_directory(tmp_path, settings_fingerprint="f1", command=["emma", "run"]) as out:
        during = _manifest(out)
    assert during["status"] == "running" and during["finished"] is None
    after = _manifest(tmp_path)
    assert after["status"] == "complete" and after["fingerprint"] == "f1"
    assert after["command"] == ["emma", "run"] and isinstance(after["finished"], str)


@pytest.mark.parametrize(
    ("error", "status"), [(KeyboardInterrupt(), "interrupted"), (RuntimeError("x"), "failed")]
)
def test_the_manifest_says_how_a_run_ended(
    tmp_path: Path, error: BaseException, status: str
) -> None:
    with pytest.raises(type(error)), run_directory(tmp_path, settings_fingerprint="f", command=[]):
        raise error
    assert _manifest(tmp_path)["status"] == status


def _use(directory: Path, key: str, **options: bool) -> None:
    with run_directory(directory, settings_fingerprint=key, command=[], **options):
        pass


def test_another_specs_directory_needs_overwrite_or_resume(tmp_path: Path) -> None:
    with run_directory(tmp_path, settings_fingerprint="old", command=[]) as out:
        (out / "report.md").write_text("old report")
        (out / "checkpoints").mkdir()
    with pytest.raises(OutputDirError, match=r"outputs of another spec.*--overwrite") as caught:
        _use(tmp_path, "new")
    assert "--resume" not in str(caught.value)  # this command cannot resume
    with pytest.raises(OutputDirError, match="--resume"):
        _use(tmp_path, "new", resume=False)
    _use(tmp_path, "new", resume=True)
    assert (tmp_path / "report.md").exists()  # resume keeps
    with run_directory(tmp_path, settings_fingerprint="newer", command=[], overwrite=True):
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME, MANIFEST_NAME]
    _use(tmp_path, "newer")  # the same settings again: no flag needed


def test_a_directory_no_emma_run_wrote_is_never_cleared(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(OutputDirError, match=r"no run\.json"):
            _use(tmp_path, "f", overwrite=overwrite)
    assert (tmp_path / "thesis.tex").read_text() == "mine"
    with pytest.raises(OutputDirError, match="exclude each other"):
        _use(tmp_path, "f", overwrite=True, resume=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "line 1: not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"fingerprint": 3}', "field 'fingerprint' must be a string, got 3"),
        (
            '{"fingerprint": "f", "status": "running", "started": "t", "finished": null, '
            '"pid": "12", "version": 1, "command": []}',
            "field 'pid' must be an integer",
        ),
        (
            '{"fingerprint": "f", "status": "running", "started": "t", "finished": null, '
            '"pid": 1, "version": 1, "command": "emma run"}',
            "field 'command' must be a list of strings",
        ),
        (
            '{"fingerprint": "f", "status": "done", "started": "t", "finished": null, '
            '"pid": 1, "version": 1, "command": []}',
            "field 'status' must be one of",
        ),
    ],
)
def test_a_damaged_manifest_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / MANIFEST_NAME).write_text(content)
    with pytest.raises(OutputDirError, match=message) as caught:
        read_manifest(tmp_path)
    assert str(tmp_path / MANIFEST_NAME) in str(caught.value)


def test_a_folder_in_place_of_the_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).mkdir()
    with pytest.raises(OutputDirError, match="is not a file"):
        read_manifest(tmp_path)


def test_inside_accepts_plain_names_and_refuses_escapes(tmp_path: Path) -> None:
    assert inside(tmp_path, "seed0-emma[rho=1]") == tmp_path / "seed0-emma[rho=1]"
    for name in ("..", "../x", "/etc", "a/../../x", "", ".", "a\x00b"):
        with pytest.raises(OutputDirError, match="refusing the path"):
            inside(tmp_path, name)
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(OutputDirError, match="outside the output directory"):
        inside(tmp_path, "link", "x")


_HOSTILE = st.lists(
    st.sampled_from(["..", ".", "/", "\\", "a", "~", "\x00", "seed0-", "%2e", ":", " "]), max_size=8
).map("".join) | st.text(max_size=20)


@settings(max_examples=300, deadline=None)
@given(name=_HOSTILE, prefix=st.sampled_from(["", "seed0-", "../", "/"]))
def test_no_name_resolves_outside_the_root(
    tmp_path_factory: pytest.TempPathFactory, name: str, prefix: str
) -> None:
    root = tmp_path_factory.getbasetemp() / "root"
    root.mkdir(exist_ok=True)
    try:
        path = inside(root, prefix + name)
    except OutputDirError:
        return
    resolved = path.resolve()
    assert resolved != root.resolve() and resolved.is_relative_to(root.resolve())


def test_a_lock_file_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_NAME).symlink_to(victim)
    with pytest.raises(OutputDirError, match="cannot open the lock file"):
        RunLock(run).acquire()
    assert victim.read_text() == "precious"
