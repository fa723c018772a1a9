"""Conformance checks for cross-modal attention (the ``cross_modal`` slot, chapter 7).

``forward(modes, present) -> modes``: one finite output per mode, shaped like its input;
a missing mode must not change the outputs of the present modes. The kit builds the kind
for two modes of its declared ``conformance_shape`` (default ``(3,)`` and ``(5,)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.core.registry import Registration
from emma_plugins.testing._assertions import assert_tensor
from emma_plugins.testing._kit import Case, FamilyKit, Params, registration_of, run_kit
from emma_plugins.testing._modules import MODULE_CHECKS
from emma_plugins.testing.endogenous import mode_samples
from emma_plugins.testing.modal_energy import ignores_missing
from emma_plugins.testing.samples import N_SAMPLES, fast_params, mode_shapes_for, present_mask

__all__ = [
    "CROSS_MODAL_CHECKS",
    "check_cross_modal",
    "check_cross_modal_ignores_missing",
    "check_cross_modal_output",
    "check_registered_cross_modal",
]

Inputs = tuple[list[Tensor], Tensor]


def check_cross_modal_output(stage: nn.Module, inputs: Inputs) -> None:
    """``forward(modes, present)`` returns one finite tensor per mode, shaped like it."""
    modes, present = inputs
    with torch.no_grad():
        outputs = stage(modes, present)
    if not isinstance(outputs, list | tuple) or len(outputs) != len(modes):
        raise AssertionError(
            f"forward(modes, present) must return a list of {len(modes)} tensors (one per "
            f"mode), got {type(outputs).__name__}."
        )
    for i, (y, x) in enumerate(zip(outputs, modes, strict=True)):
        assert_tensor(y, x.shape, f"output {i} of forward(modes, present)")


def check_cross_modal_ignores_missing(stage: nn.Module, inputs: Inputs) -> None:
    """A missing mode's values do not change the outputs of the present modes."""

    def change(args: tuple[Any, ...], missing: Tensor) -> tuple[Any, ...]:
        modes = [
            torch.where(missing[:, i].reshape(-1, *[1] * (x.dim() - 1)), x + 9.0, x)
            for i, x in enumerate(args[0])
        ]
        return modes, args[1]

    ignores_missing(stage, inputs, change, inputs[1], "the values", per_mode=True)


CROSS_MODAL_CHECKS = (check_cross_modal_output, check_cross_modal_ignores_missing, *MODULE_CHECKS)


def cross_modal_case(registration: Registration, params: Params = None) -> Case:
    values = fast_params(registration, params)
    shapes = mode_shapes_for("cross_modal", registration)

    def make() -> Any:
        return registration.build(values, n_modes=len(shapes), mode_shapes=shapes)

    inputs = (mode_samples(shapes), present_mask(N_SAMPLES, len(shapes)))
    return Case(make(), inputs, make)


def check_cross_modal(
    stage: nn.Module, modes: Sequence[Tensor], present: Tensor | None = None
) -> None:
    """Run every cross-modal check on copies of ``stage`` with the batch ``modes``."""
    mask = present_mask(len(modes[0]), len(modes)) if present is None else present
    run_kit(KIT, Case(stage, (list(modes), mask)))


def check_registered_cross_modal(kind: str, params: Params = None) -> None:
    """Build the installed cross-modal ``kind`` with fast parameters and run every check."""
    run_kit(KIT, cross_modal_case(registration_of("cross_modal", kind), params), kind)


KIT = FamilyKit("cross_modal", CROSS_MODAL_CHECKS, cross_modal_case)
