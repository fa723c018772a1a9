"""Data paths in specs: always relative to the data directory, never escaping it.

A spec is shared between machines, so it names files as ``<dataset>/<file>`` under the data
directory (``EMMA_DATA_DIR``, laid out like ``htru2/HTRU_2.csv``) and never as an absolute
path; ``..`` could reach any file of the machine, so it is refused too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

from emma_plugins.core.datapaths import check_data_path
from emma_plugins.core.errors import SpecError

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
