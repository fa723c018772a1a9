"""Where data files live: ``<data dir>/<dataset>/<files>``.

The data directory is the first of: an explicit argument, the spec's ``data_dir``,
the ``EMMA_DATA_DIR`` environment variable, and a per-user cache
(``$XDG_CACHE_HOME/emma_plugins``, else ``~/.cache/emma_plugins``). Files are read from it
and, when absent, downloaded into it.
"""

from __future__ import annotations

import os
from pathlib import Path

from emma_plugins.core.datapaths import check_data_path
from emma_plugins.core.errors import DataError

DATA_DIR_ENV = "EMMA_DATA_DIR"
CACHE_NAME = "emma_plugins"


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/emma_plugins``, or ``~/.cache/emma_plugins`` when it is unset."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    return root / CACHE_NAME


def resolve_data_dir(
    explicit: str | os.PathLike[str] | None = None, spec: str | os.PathLike[str] | None = None
) -> Path:
    """The data directory: ``explicit``, else ``spec``, else ``$EMMA_DATA_DIR``, else the cache."""
    for candidate in (explicit, spec, os.environ.get(DATA_DIR_ENV, "").strip() or None):
        if candidate is not None and str(candidate) != "":
            return Path(candidate).expanduser()
    return user_cache_dir()


def manual_instructions(dataset: str, files: list[str], data_dir: Path, source: str) -> str:
    """How to supply a data set by hand, for error messages."""
    listed = ", ".join(files)
    return (
        f"To supply {dataset} offline, download it from {source} and place {listed} in "
        f"{data_dir / dataset}/ (or put them in <dir>/{dataset}/ and set {DATA_DIR_ENV}=<dir>, "
        f"or pass data_dir=<dir>)."
    )


def data_file(relative: str, root: str | os.PathLike[str]) -> Path:
    """``root / relative`` as an existing file, refusing paths that leave ``root`` (also
    through symbolic links); a `DataError` otherwise, saying where the file should be."""
    try:
        check_data_path(relative)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    base = Path(root).expanduser().resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise DataError(
            f"data path {relative!r} resolves to {target}, outside the data directory {base}."
        )
    if not target.is_file():
        raise DataError(
            f"{target} does not exist or is not a file; put the table there, or point the data "
            f"directory elsewhere (data_dir, or {DATA_DIR_ENV})."
        )
    return target
