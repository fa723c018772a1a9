"""The output directory of an experiment command: ``--overwrite``/``--resume``, checked,
locked and described by ``run.json`` before any training (`emma_plugins.rundir`)."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emma_plugins.rundir import fingerprint, run_directory


def add_output_arguments(parser: argparse.ArgumentParser, *, resume: str | None = None) -> None:
    """``--overwrite``, and ``--resume`` where the command can resume (``resume`` says how);
    a command without it says so in its help."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="clear the output directory's previous emma outputs first, even those of "
        "another spec (a directory without run.json is never cleared)",
    )
    if resume is not None:
        group.add_argument(
            "--resume",
            action="store_true",
            help=f"reuse an output directory of another spec: {resume}",
        )


@contextlib.contextmanager
def output_directory(args: argparse.Namespace, out: Path, settings: Any) -> Iterator[Path]:
    """`run_directory` of ``out`` for the run ``args`` describe, ``settings`` its inputs."""
    resume = getattr(args, "resume", None)
    with run_directory(
        out,
        settings_fingerprint=fingerprint(settings),
        command=getattr(args, "argv", None) or ["emma", str(getattr(args, "command", ""))],
        overwrite=getattr(args, "overwrite", False),
        resume=resume,
    ) as directory:
        yield directory
