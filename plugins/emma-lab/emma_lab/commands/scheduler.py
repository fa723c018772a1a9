"""``--scheduler ADDRESS``: run a command's jobs on a Dask cluster (`emma_lab.cluster`)."""

from __future__ import annotations

import argparse
import re
from typing import Any


def scheduler_address(text: str) -> str:
    """``local:N`` (N at least 1) or ``PROTOCOL://host:port``."""
    local = re.fullmatch(r"local:(\d+)", text)
    if (local is not None and int(local.group(1)) >= 1) or re.fullmatch(
        r"[a-z][a-z0-9+.-]*://\S+", text
    ):
        return text
    raise argparse.ArgumentTypeError(
        f"expected tcp://host:port (a running Dask scheduler) or local:N, got {text!r}"
    )


def add_scheduler_option(parser: Any, jobs: str, log: str) -> None:
    """The option, saying what the jobs are (``jobs``) and which file the driver writes."""
    parser.add_argument(
        "--scheduler",
        type=scheduler_address,
        default=None,
        metavar="ADDRESS",
        help=f"run the {jobs} on a Dask cluster: tcp://host:port of a running scheduler "
        "(`dask scheduler`, workers started with `dask worker ADDRESS --nthreads 1`), or "
        "local:N for a local cluster of N worker processes started and stopped here. "
        "Workers load the data from the spec's data section (with --data-dir, else their "
        f"own EMMA_DATA_DIR); this process alone writes the results and {log}. Needs the "
        "extra: pip install 'emma-lab[dask]'",
    )


__all__ = ["add_scheduler_option", "scheduler_address"]
