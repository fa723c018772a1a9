"""The plugin contract: one registrar hook per component family.

Every hook receives a ``register`` callable and calls it once per component::

    register(kind: str, factory: Callable[..., Any], params: type[BaseModel] | None = None)

``kind`` is the name spec files use, ``factory`` builds the component (usually the class
itself) and ``params`` is the pydantic model of its parameters (``extra="forbid"``; omit it
when the component takes none). The factory is called with the validated parameter fields
as keywords, plus the *context keywords* listed on each hook. Registration never depends on
plugin order: a kind registered twice is an error naming both providers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "emma_plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., Any]


@hookspec
def register_estimators(register: Register) -> None:
    """Register energy estimators (step 1): subclasses of `EnergyEstimator`.

    Called once, when the estimator registry is first used.

    :param register: call ``register(kind, factory, params)`` once per estimator.
        Context keyword passed to the factory: ``shape`` (``tuple[int, ...]``), the shape
        of one sample of the mode, without the batch dimension.
    """


@hookspec
def register_corrections(register: Register) -> None:
    """Register potential corrections (the correction slot, equation 5.3).

    Called once, when the correction registry is first used.

    :param register: call ``register(kind, factory, params)`` once per stage.
        Context keyword: ``n_modes`` (``int``).
    """


@hookspec
def register_modal_energies(register: Register) -> None:
    """Register modal-energy stages (step 2, equations 5.1-5.2).

    Called once, when the modal-energy registry is first used.

    :param register: call ``register(kind, factory, params)`` once per stage.
        Context keyword: ``n_modes`` (``int``).
    """


@hookspec
def register_importances(register: Register) -> None:
    """Register importance stages (step 3, the Boltzmann distribution 5.4).

    Called once, when the importance registry is first used.

    :param register: call ``register(kind, factory, params)`` once per stage.
        Context keyword: ``n_modes`` (``int``).
    """


@hookspec
def register_gates(register: Register) -> None:
    """Register gates that turn importance into attention (step 4, equation 5.5).

    Called once, when the gate registry is first used.

    :param register: call ``register(kind, factory, params)`` once per stage.
        Context keyword: ``n_modes`` (``int``).
    """


@hookspec
def register_endogenous(register: Register) -> None:
    """Register endogenous (intra-modal) attention stages of chapter 7: masks m_i shaped like x_i.

    Called once, when the endogenous registry is first used. The slot is optional.

    :param register: call ``register(kind, factory, params)`` once per stage.
        Context keywords: ``n_modes`` (``int``) and ``mode_shapes``
        (``list[tuple[int, ...]]``, one sample shape per mode).
    """


@hookspec
def register_cross_modal(register: Register) -> None:
    """Register cross-modal attention stages of chapter 7, applied after masking.

    Called once, when the cross-modal registry is first used. The slot is optional.

    :param register: call ``register(kind, factory, params)`` once per stage.
        Context keywords: ``n_modes`` (``int``) and ``mode_shapes``
        (``list[tuple[int, ...]]``).
    """


@hookspec
def register_networks(register: Register) -> None:
    """Register multi-modal networks (MMN) and fusion baselines.

    Called once, when the network registry is first used.

    :param register: call ``register(kind, factory, params)`` once per network.
        Context keywords: ``mode_shapes`` (``list[tuple[int, ...]]``) and
        ``out_features`` (``int``).
    """


@hookspec
def register_corruptions(register: Register) -> None:
    """Register corruptions that simulate a failing mode (noise, out-of-distribution, missing).

    Called once, when the corruption registry is first used.

    :param register: call ``register(kind, factory, params)`` once per corruption.
        No context keywords.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register data sets: loaders that return named modes and targets.

    Called once, when the dataset registry is first used.

    :param register: call ``register(kind, factory, params)`` once per data set.
        No context keywords.
    """


@hookspec
def register_spec_sections(register: Register) -> None:
    """Register top-level spec sections that a plugin reads, such as the lab's ``evaluation``.

    Called once, when the spec model is first derived. Each section is optional in a spec
    and validates with its own pydantic model, so ``emma validate`` and ``emma schema``
    cover it like the library's own sections.

    :param register: call ``register(name, model)`` once per section: ``name`` is the key in
        spec files and ``model`` a pydantic ``BaseModel`` subclass (``extra="forbid"``). The
        model may define ``check_spec(self, spec) -> Iterable[SpecIssue]`` for checks that
        need the rest of the spec (mode names, say); locations are relative to the section.
    """


@hookspec
def register_commands(register: Register) -> None:
    """Register subcommands of the ``emma`` command line.

    Called once, when ``emma`` builds its argument parser.

    :param register: call ``register(name, add_parser)`` once per command: ``add_parser``
        takes the ``argparse`` subparsers object, adds the parser of ``name`` and sets its
        ``handler`` default, a function of the parsed arguments that returns the exit code.
    """
