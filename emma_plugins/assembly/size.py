"""How big the model of a spec would be, counted before anything is allocated.

`estimate_parameters` builds the spec's components on torch's ``meta`` device, where tensors
have shapes but no storage, and counts their parameters and buffers; `check_parameters`
refuses a spec above the limit, so ``hidden: 1000000000`` is a clear error instead of a
40 GB allocation that dies in the allocator. `build` and checkpoint loading run the check
before building; ``emma validate`` reports it as a problem of the spec.

The limit is `DEFAULT_MAX_PARAMETERS` unless the caller passes one, or the environment
variable `ENV_MAX_PARAMETERS` sets one (docs/spec.md, "Limits").
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from emma_plugins.attention.build import SHAPED_SLOTS
from emma_plugins.core.errors import SpecError, SpecIssue
from emma_plugins.core.plugins import get_registry
from emma_plugins.spec import EmmaSpec

#: Most parameters and buffers a spec may build unless the limit is raised.
DEFAULT_MAX_PARAMETERS = 100_000_000
#: Environment variable that sets the limit (a positive integer).
ENV_MAX_PARAMETERS = "EMMA_MAX_PARAMETERS"

_RAISE = (
    "make the model smaller, or raise the limit with --max-parameters N (emma validate, "
    f"emma build), {ENV_MAX_PARAMETERS}=N in the environment, or build(..., max_parameters=N)"
)


@dataclass(frozen=True)
class ParameterCount:
    """Parameters and buffers of the model a spec builds, per part of the spec.

    ``parts`` maps a location in the spec (``modes[0].estimator``, ``attention.gate``,
    ``network``) to its count; ``total`` is their sum. Each component is built on its
    own, as the builder builds it (the attention module that holds the stages adds none).
    """

    parts: dict[str, int]
    #: A location whose sizes overflow torch's 64-bit element counts, with torch's message.
    overflow: tuple[str, str] | None = None

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def largest(self) -> tuple[str, int]:
        """The location holding the most values, and their count."""
        return max(self.parts.items(), key=lambda item: item[1])


def max_parameters(limit: int | None = None) -> int:
    """The limit in force: ``limit`` if given, else `ENV_MAX_PARAMETERS`, else the default."""
    if limit is None:
        text = os.environ.get(ENV_MAX_PARAMETERS, "").strip()
        if not text:
            return DEFAULT_MAX_PARAMETERS
        try:
            limit = int(text.replace("_", ""))
        except ValueError:
            limit = 0
        if limit < 1:
            raise SpecError(
                f"{ENV_MAX_PARAMETERS}={text!r} is not a positive integer; set it to the most "
                "parameters a model may have, e.g. 500000000, or unset it for the default "
                f"{DEFAULT_MAX_PARAMETERS}"
            )
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise SpecError(f"max_parameters must be a positive integer, got {limit!r}")
    return limit


def _size(component: Any) -> int:
    if not isinstance(component, nn.Module):
        return 0
    return sum(t.numel() for t in (*component.parameters(), *component.buffers()))


def estimate_parameters(spec: EmmaSpec, *, network_given: bool = False) -> ParameterCount | None:
    """Parameters and buffers of what ``build(spec)`` would build, without allocating them.

    With ``network_given`` the spec's network is not counted (the caller passes its own,
    already built). ``None`` when a component cannot be built on the ``meta`` device (a
    plugin kind that computes with real values in its constructor): such a spec is not
    measured here and its build proceeds as before.
    """
    parts: dict[str, int] = {}
    where = "network"
    # fork_rng: initialising on meta draws nothing, but a plugin might draw on the CPU;
    # the caller's seeded weights must not depend on whether the spec was measured.
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        try:
            if spec.attention.enabled:
                registry = get_registry("estimator")
                for index, mode in enumerate(spec.modes):
                    where = f"modes[{index}].estimator"
                    estimator = registry.get(mode.estimator.kind).build(
                        mode.estimator, shape=mode.sample_shape
                    )
                    parts[where] = _size(estimator)
                shapes = [tuple(shape) for shape in spec.mode_shapes]
                for slot, component in spec.attention.stages().items():
                    where = f"attention.{slot}"
                    context: dict[str, Any] = {"n_modes": len(spec.modes)}
                    if slot in SHAPED_SLOTS:
                        context["mode_shapes"] = shapes
                    stage = get_registry(slot).get(component.kind).build(component, **context)
                    parts[where] = _size(stage)
            if spec.network is not None and not network_given:
                where = "network"
                network = (
                    get_registry("network")
                    .get(spec.network.kind)
                    .build(
                        spec.network,
                        mode_shapes=list(spec.mode_shapes),
                        out_features=spec.out_features,
                    )
                )
                parts["network"] = _size(network)
        except Exception as exc:
            if _overflowed(exc):  # sizes beyond 64-bit counts: far above any limit
                return ParameterCount(parts, overflow=(where, " ".join(str(exc).split())[:200]))
            return None  # not measurable on meta: the real build reports any error
    return ParameterCount(parts) if parts else None


def _overflowed(exc: Exception) -> bool:
    """Whether torch refused a size because it does not fit its 64-bit counts."""
    return isinstance(exc, OverflowError) or "overflow" in str(exc).lower()


def parameter_issues(
    spec: EmmaSpec, limit: int | None = None, *, network_given: bool = False
) -> list[SpecIssue]:
    """A problem at the largest part of the model when it has more than ``limit``
    parameters and buffers (`max_parameters`); none otherwise."""
    cap = max_parameters(limit)
    count = estimate_parameters(spec, network_given=network_given)
    if count is not None and count.overflow is not None:
        where, detail = count.overflow
        return [
            SpecIssue(
                where,
                f"its sizes are too large to count: torch refused them ({detail}), far above "
                f"the limit of {cap:,} parameters and buffers; make the model smaller",
            )
        ]
    if count is None or count.total <= cap:
        return []
    where, part = count.largest()
    share = "" if part == count.total else f" ({where} alone: {part:,})"
    return [
        SpecIssue(
            where,
            f"the model would have {count.total:,} parameters and buffers{share}, above the "
            f"limit of {cap:,}; {_RAISE}",
        )
    ]


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_max_parameters_option(parser: argparse.ArgumentParser) -> None:
    """The ``--max-parameters N`` option of the commands that build or check a model."""
    parser.add_argument(
        "--max-parameters",
        type=_positive,
        default=None,
        metavar="N",
        help=f"refuse a model with more than N parameters and buffers (default: "
        f"${ENV_MAX_PARAMETERS}, else {DEFAULT_MAX_PARAMETERS:,})",
    )


def check_parameters(
    spec: EmmaSpec,
    limit: int | None = None,
    *,
    network_given: bool = False,
    source: str | None = None,
) -> None:
    """Raise `SpecError` when the spec's model exceeds the limit (`parameter_issues`)."""
    issues = parameter_issues(spec, limit, network_given=network_given)
    if issues:
        lines = "\n".join(f"  {issue}" for issue in issues)
        raise SpecError(
            f"{source or 'spec'}: model too large\n{lines}", issues=issues, source=source
        )


__all__ = [
    "DEFAULT_MAX_PARAMETERS",
    "ENV_MAX_PARAMETERS",
    "ParameterCount",
    "add_max_parameters_option",
    "check_parameters",
    "estimate_parameters",
    "max_parameters",
    "parameter_issues",
]
