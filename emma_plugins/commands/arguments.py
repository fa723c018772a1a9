"""Arguments that several commands (the library's fit, the lab's experiments) share."""

from __future__ import annotations

import argparse
from pathlib import Path

from emma_plugins.core.errors import SpecError
from emma_plugins.spec import EmmaSpec


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


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device``: where to train, over the spec's ``training.device``."""
    parser.add_argument(
        "--device",
        default=None,
        help="where to train: auto, cpu, cuda, cuda:N or mps (default: the spec's "
        "training.device, itself auto: CUDA, then MPS, then the CPU)",
    )


def add_stack_option(parser: argparse.ArgumentParser) -> None:
    """``--no-stack``: train models one at a time instead of stacked."""
    parser.add_argument(
        "--no-stack",
        action="store_true",
        help="train every model one at a time; by default models of one seed that differ "
        "only in settings (rho, lambda, lr, ...) train as one stacked model, with the same "
        "results (emma_plugins.training.stacked)",
    )


def with_device(spec: EmmaSpec, device: str | None) -> EmmaSpec:
    """``spec`` with ``training.device`` set to ``device`` (unchanged when None); a device
    string of the wrong form is a `SpecError` naming the option."""
    if device is None:
        return spec
    import re

    from emma_plugins.training.devices import DEVICE_PATTERN

    if not re.match(DEVICE_PATTERN, device):
        raise SpecError(f"--device {device!r}: expected auto, cpu, cuda, cuda:N or mps.")
    training = spec.resolved_training.model_copy(update={"device": device})
    return spec.model_copy(update={"training": training})
