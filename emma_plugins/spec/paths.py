"""Data paths in specs: always relative to the data directory, never escaping it.

A spec is shared between machines, so it names files as ``<dataset>/<file>`` under the data
directory (``EMMA_DATA_DIR``, laid out like ``htru2/HTRU_2.csv``) and never as an absolute
path; ``..`` could reach any file of the machine, so it is refused too.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated

from pydantic import AfterValidator

from emma_plugins.core.errors import SpecError

_HOW = "write it relative to the data directory (EMMA_DATA_DIR), e.g. 'htru2/HTRU_2.csv'"


def check_data_path(value: str) -> str:
    """``value`` if it is a relative path inside the data directory; ValueError otherwise."""
    if not value.strip():
        raise ValueError(f"a data path must not be empty; {_HOW}")
    posix, windows = PurePosixPath(value), PureWindowsPath(value)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or value.startswith("~"):
        raise ValueError(f"absolute data path {value!r} is not allowed in a spec; {_HOW}")
    if ".." in posix.parts or ".." in windows.parts:
        raise ValueError(f"data path {value!r} leaves the data directory through '..'; {_HOW}")
    return value


#: A ``str`` field holding a path relative to the data directory.
DataPath = Annotated[str, AfterValidator(check_data_path)]


def resolve_data_path(relative: str, root: str | os.PathLike[str]) -> Path:
    """``root / relative``, refusing paths that leave ``root`` (also through symbolic links)."""
    try:
        check_data_path(relative)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    base = Path(root).resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise SpecError(
            f"data path {relative!r} resolves to {target}, outside the data directory {base}."
        )
    return target
