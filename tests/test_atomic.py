"""Atomic writes: the target is either the old file or the complete new one, never a stub."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO

import pytest

from emma_plugins.atomic import write_atomic


def test_replaces_content_and_creates_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.bin"
    assert write_atomic(target, lambda handle: handle.write(b"first")) == target
    write_atomic(target, lambda handle: handle.write(b"second"))
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["out.bin"]


def test_failure_midway_keeps_the_old_file_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old complete file")

    def crash(handle: IO[bytes]) -> None:
        handle.write(b"\x89PNG half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(target, crash)
    assert target.read_bytes() == b"old complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_failure_without_an_old_file_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "new.png", lambda handle: (_ for _ in ()).throw(KeyboardInterrupt))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_new_files_follow_the_umask_like_any_other_file(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        target = write_atomic(tmp_path / "out.json", lambda handle: handle.write(b"{}"))
        plain = tmp_path / "plain.json"
        plain.write_bytes(b"{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_a_full_disk_is_an_oserror_naming_the_target(tmp_path: Path) -> None:
    def full(handle: IO[bytes]) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "results.csv"
    with pytest.raises(OSError) as caught:
        write_atomic(target, full)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert not any(tmp_path.iterdir())
