"""The lab's hook implementations: thesis data sets, the ``evaluation`` section, commands.

Registered through the ``emma_plugins`` entry point, as a third-party plugin would be.
Command modules are imported only when ``emma`` builds its parser.
"""

from __future__ import annotations

import importlib

from emma_lab.datasets import (
    load_av_digits,
    load_circle,
    load_fsdd,
    load_htru2,
    load_mfeat,
    load_wave,
)
from emma_lab.datasets.params import FileDatasetParams, PointSetParams, SpokenDigitParams
from emma_lab.spec import EvaluationSpec
from emma_plugins import Register, hookimpl

#: The lab's subcommands; each module under ``emma_lab.commands`` defines ``add_parser``.
COMMANDS = ("run", "grid", "bench", "demo")


@hookimpl
def register_datasets(register: Register) -> None:
    register("htru2", load_htru2, FileDatasetParams)
    register("mfeat", load_mfeat, FileDatasetParams)
    register("wave", load_wave, PointSetParams)
    register("circle", load_circle, PointSetParams)
    register("fsdd", load_fsdd, SpokenDigitParams)
    register("av_digits", load_av_digits, SpokenDigitParams)


@hookimpl
def register_spec_sections(register: Register) -> None:
    register("evaluation", EvaluationSpec)


@hookimpl
def register_commands(register: Register) -> None:
    for name in COMMANDS:
        register(name, importlib.import_module(f"emma_lab.commands.{name}").add_parser)
