"""Atomic file output: readers see the old file or the complete new one, never half of it.

One implementation for every writer: checkpoints here, and plugins' tables, reports, figures.
Files get the mode any new file gets under the process's umask (``0o666 & ~umask``), not
the ``0o600`` of a bare temporary file, and an ``OSError`` (a full disk) names the target.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomic(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it into place.

    The temporary file lives in the target's directory so that ``os.replace`` is a rename
    on one file system (atomic on POSIX and Windows); on any error it is removed and the
    previous content of ``path``, if any, is left untouched. An ``OSError`` that names no
    file (``write`` or ``fsync`` failing on a full disk) is raised again naming ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, before the rename
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            _chmod_default(handle.fileno())
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except OSError as exc:
        Path(handle.name).unlink(missing_ok=True)
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(target)) from exc
        raise
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target


def _current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not atomic across threads)
    os.umask(mask)
    return mask


def _chmod_default(fd: int) -> None:
    if hasattr(os, "fchmod"):  # POSIX; on Windows the mode bits mean little
        os.fchmod(fd, 0o666 & ~_current_umask())
