"""The rule for data paths in specs: relative to the data directory, never leaving it.

It lives in the contract layer because both the spec (which validates paths as it reads a
spec) and the data sources (which open the files) apply it, and neither imports the other.
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

_HOW = "write it relative to the data directory (EMMA_DATA_DIR), e.g. 'htru2/HTRU_2.csv'"


def check_data_path(value: str) -> str:
    """``value`` if it is a relative path inside the data directory; ValueError otherwise.

    Specs are shared between machines, so they name files relative to the data directory;
    an absolute path, ``~`` or ``..`` could reach any file of the machine and is refused.
    """
    if not value.strip():
        raise ValueError(f"a data path must not be empty; {_HOW}")
    posix, windows = PurePosixPath(value), PureWindowsPath(value)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or value.startswith("~"):
        raise ValueError(f"absolute data path {value!r} is not allowed in a spec; {_HOW}")
    if ".." in posix.parts or ".." in windows.parts:
        raise ValueError(f"data path {value!r} leaves the data directory through '..'; {_HOW}")
    return value
