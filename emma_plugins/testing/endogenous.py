"""Conformance checks for endogenous attention (the ``endogenous`` slot, chapter 7).

``forward(modes) -> masks``: one finite mask per mode, shaped like the mode. The kit
builds the kind for two modes of its declared ``conformance_shape`` (default ``(3,)`` and
``(5,)``; see `emma_plugins.testing.samples`).
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
from emma_plugins.testing.samples import N_SAMPLES, fast_params, mode_shapes_for, sample

__all__ = [
    "ENDOGENOUS_CHECKS",
    "check_endogenous",
    "check_endogenous_output",
    "check_registered_endogenous",
    "mode_samples",
]


def mode_samples(mode_shapes: Sequence[Sequence[int]], n: int = N_SAMPLES) -> list[Tensor]:
    """One batch of ``n`` standard normal samples per mode, each seeded differently."""
    return [sample(shape, n, seed=i) for i, shape in enumerate(mode_shapes)]


def check_endogenous_output(stage: nn.Module, inputs: tuple[list[Tensor]]) -> None:
    """``forward(modes)`` returns one finite mask per mode, shaped like the mode."""
    (modes,) = inputs
    with torch.no_grad():
        masks = stage(modes)
    if not isinstance(masks, list | tuple) or len(masks) != len(modes):
        count = f" of {len(masks)}" if isinstance(masks, list | tuple) else ""
        raise AssertionError(
            f"forward(modes) must return a list of {len(modes)} masks (one per mode), got "
            f"{type(masks).__name__}{count}."
        )
    for i, (mask, x) in enumerate(zip(masks, modes, strict=True)):
        assert_tensor(mask, x.shape, f"mask {i} of forward(modes)")


ENDOGENOUS_CHECKS = (check_endogenous_output, *MODULE_CHECKS)


def endogenous_case(registration: Registration, params: Params = None) -> Case:
    values = fast_params(registration, params)
    shapes = mode_shapes_for("endogenous", registration)

    def make() -> Any:
        return registration.build(values, n_modes=len(shapes), mode_shapes=shapes)

    return Case(make(), (mode_samples(shapes),), make)


def check_endogenous(stage: nn.Module, modes: Sequence[Tensor]) -> None:
    """Run every endogenous check on copies of ``stage`` with the batch ``modes``."""
    run_kit(KIT, Case(stage, (list(modes),)))


def check_registered_endogenous(kind: str, params: Params = None) -> None:
    """Build the installed endogenous ``kind`` with fast parameters and run every check."""
    run_kit(KIT, endogenous_case(registration_of("endogenous", kind), params), kind)


KIT = FamilyKit("endogenous", ENDOGENOUS_CHECKS, endogenous_case)
