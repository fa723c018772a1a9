"""Atomic writes: the target is either the old file or the complete new one, never a stub."""

from __future__ import annotations

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
