"""Arguments that several commands (the library's fit, the lab's experiments) share."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_spec_run_arguments(parser: argparse.ArgumentParser, out_default: str) -> None:
    """``SPEC``, ``--out``, ``--data-dir`` and ``--no-progress``."""
    parser.add_argument("spec", type=Path, help="spec file (.yaml, .yml, .toml or .json)")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"output directory (default: {out_default})"
    )
    parser.add_argument(
        "--data-dir", default=None, help="data directory (default: $EMMA_DATA_DIR, else the cache)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
