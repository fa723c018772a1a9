"""Atomic file output: a crash or a full disk never leaves a half-written figure behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from matplotlib.figure import Figure


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it into place.

    The temporary file lives in the target's directory so that ``os.replace`` is a rename
    on one file system (atomic on POSIX and Windows); on any error it is removed and the
    previous content of ``path``, if any, is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, before the rename
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target


def save_figure(figure: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Save ``figure`` as a PNG at ``path`` atomically; returns the path."""
    return write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=dpi))
