"""Conformance checks for modal-energy stages (the ``modal_energy`` slot, equations 5.1-5.2).

``forward(potential [N, M], present [N, M] bool)`` returns ``(self_energy, modal_energy)``,
both ``[N, M]`` and finite, for corrected potentials (finite, at least e). A missing mode
must not change the energies of the present modes of its sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.core.registry import Registration
from emma_plugins.testing._assertions import assert_close, assert_tensor
from emma_plugins.testing._kit import Case, FamilyKit, Params, registration_of, run_kit
from emma_plugins.testing._modules import MODULE_CHECKS, flat, perturbed
from emma_plugins.testing.samples import N_MODES, N_SAMPLES, fast_params, present_mask, sample

__all__ = [
    "MODAL_ENERGY_CHECKS",
    "check_missing_modes_ignored",
    "check_modal_energy",
    "check_modal_energy_output",
    "check_registered_modal_energy",
    "modal_energy_inputs",
]


def modal_energy_inputs(n_modes: int = N_MODES, n: int = N_SAMPLES) -> tuple[Tensor, Tensor]:
    """``(potential [n, n_modes] >= e, present [n, n_modes])``; see `present_mask`."""
    potential = math.e + sample((n_modes,), n).abs() * 2.0
    return potential, present_mask(n, n_modes)


def check_modal_energy_output(stage: nn.Module, inputs: tuple[Tensor, Tensor]) -> None:
    """``forward(potential, present)`` is a pair of finite ``[N, M]`` tensors."""
    potential, present = inputs
    with torch.no_grad():
        output = stage(potential, present)
    if not isinstance(output, tuple | list) or len(output) != 2:
        raise AssertionError(
            "forward(potential, present) must return (self_energy, modal_energy), got "
            f"{type(output).__name__}; return both, even if they are equal."
        )
    for name, value in zip(("self_energy", "modal_energy"), output, strict=True):
        assert_tensor(value, potential.shape, f"forward(potential, present): {name}")


def ignores_missing(
    stage: nn.Module,
    inputs: tuple[Any, ...],
    change: Callable[[tuple[Any, ...], Tensor], tuple[Any, ...]],
    present: Tensor,
    what: str,
    per_mode: bool = False,
) -> None:
    """The outputs at present modes do not move when the inputs of missing modes do.

    Outputs are ``[N, M]`` tensors, or (``per_mode``) one ``[N, ...]`` tensor per mode.
    """
    stage = perturbed(stage).eval()
    with torch.no_grad():
        before = flat(stage(*inputs))
        after = flat(stage(*change(inputs, ~present)))
    for j, (a, b) in enumerate(zip(after, before, strict=True)):
        keep = present[:, j] if per_mode else present
        assert_close(
            a[keep],
            b[keep],
            f"output {j} at present modes changed when only {what} of missing modes changed: "
            "leave missing modes out (use the present mask), they hold placeholders",
        )


def check_missing_modes_ignored(stage: nn.Module, inputs: tuple[Tensor, Tensor]) -> None:
    """A missing mode's potential does not change the energies of the present modes."""
    potential, present = inputs

    def change(args: tuple[Any, ...], missing: Tensor) -> tuple[Any, ...]:
        return torch.where(missing, args[0] + 7.0, args[0]), args[1]

    ignores_missing(stage, (potential, present), change, present, "the potential")


MODAL_ENERGY_CHECKS = (check_modal_energy_output, check_missing_modes_ignored, *MODULE_CHECKS)


def modal_energy_case(registration: Registration, params: Params = None) -> Case:
    values = fast_params(registration, params)

    def make() -> Any:
        return registration.build(values, n_modes=N_MODES)

    return Case(make(), modal_energy_inputs(), make)


def check_modal_energy(stage: nn.Module, inputs: tuple[Tensor, Tensor] | None = None) -> None:
    """Run every modal-energy check on copies of ``stage``."""
    inputs = inputs or modal_energy_inputs(n_modes=getattr(stage, "n_modes", N_MODES))
    run_kit(KIT, Case(stage, inputs))


def check_registered_modal_energy(kind: str, params: Params = None) -> None:
    """Build the installed modal-energy ``kind`` with fast parameters and run every check."""
    run_kit(KIT, modal_energy_case(registration_of("modal_energy", kind), params), kind)


KIT = FamilyKit("modal_energy", MODAL_ENERGY_CHECKS, modal_energy_case)
