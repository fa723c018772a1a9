"""Locate the real data sets for tests that need them, or skip with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emma_plugins.sources.paths import DATA_DIR_ENV


def shared_data_dir(dataset: str, *files: str) -> Path:
    """``$EMMA_DATA_DIR`` when it holds ``<dataset>/<files>``; otherwise skip the test."""
    root = os.environ.get(DATA_DIR_ENV, "").strip()
    if not root:
        pytest.skip(f"{DATA_DIR_ENV} is not set; point it at the data folder (CI: ../shared/data).")
    missing = [f for f in files if not (Path(root) / dataset / f).is_file()]
    if missing:
        pytest.skip(f"{DATA_DIR_ENV}={root} lacks {dataset}/{missing[0]}.")
    return Path(root)
