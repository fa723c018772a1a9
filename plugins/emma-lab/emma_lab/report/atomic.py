"""Atomic figure output: a crash or a full disk never leaves a half-written figure behind."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from emma_plugins.atomic import write_atomic

__all__ = ["save_figure", "write_atomic", "write_text"]


def save_figure(figure: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Save ``figure`` as a PNG at ``path`` atomically; returns the path."""
    return write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=dpi))


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) at ``path`` atomically; returns the path."""
    return write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))
