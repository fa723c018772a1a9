"""Conformance checks for corruptions (the ``corruption`` family).

A corruption returns a NEW tensor shaped like the rows it gets, never writes them in
place, draws its randomness only from the generator it is given (the same seed gives the
same result, and torch's global generator is left alone) and says with the boolean
``missing`` whether it removes the mode. The kit corrupts rows of the kind's declared
``conformance_shape`` (default ``(4,)``), with labels and a pool in the context.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from emma_plugins.core.registry import Registration
from emma_plugins.corruptions.base import CorruptionContext
from emma_plugins.testing._assertions import assert_tensor
from emma_plugins.testing._kit import Case, FamilyKit, Params, registration_of, run_kit
from emma_plugins.testing.samples import N_SAMPLES, fast_params, mode_shapes_for, sample

__all__ = [
    "CORRUPTION_CHECKS",
    "check_corruption",
    "check_corruption_missing_flag",
    "check_corruption_output",
    "check_corruption_seeded",
    "check_registered_corruption",
    "corruption_inputs",
]

Inputs = tuple[Tensor, CorruptionContext]


def corruption_inputs(shape: tuple[int, ...] = (4,), n: int = N_SAMPLES) -> Inputs:
    """``(x, context)``: ``n`` rows of ``shape`` and a context with labels and a pool."""
    labels = torch.arange(n) % 2
    pool = sample(shape, 2 * n, seed=1)
    context = CorruptionContext(
        mode="m", labels=labels, pool=pool, pool_labels=torch.arange(2 * n) % 2
    )
    return sample(shape, n), context


def _apply(corruption: Any, inputs: Inputs, seed: int = 0) -> Any:
    x, context = inputs
    return corruption(x, generator=torch.Generator().manual_seed(seed), context=context)


def check_corruption_output(corruption: Any, inputs: Inputs) -> None:
    """A new finite tensor shaped like ``x``, same dtype and device; ``x`` is untouched."""
    x = inputs[0]
    before = x.clone()
    out = _apply(corruption, inputs)
    assert_tensor(out, x.shape, "corruption(x, generator=..., context=...)")
    if out.dtype != x.dtype or out.device != x.device:
        raise AssertionError(
            f"the corrupted rows are {out.dtype} on {out.device}; give them x's dtype and "
            f"device ({x.dtype} on {x.device})."
        )
    if not torch.equal(x, before):
        raise AssertionError("the corruption wrote into x in place; corrupt a copy (x.clone()).")
    if out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
        raise AssertionError("the corruption returned x itself (or a view); return a new tensor.")


def check_corruption_seeded(corruption: Any, inputs: Inputs) -> None:
    """The same seed gives the same rows, and torch's global generator is not used."""
    state = torch.random.get_rng_state()
    first, second = _apply(corruption, inputs), _apply(corruption, inputs)
    if not torch.equal(torch.random.get_rng_state(), state):
        raise AssertionError(
            "the corruption drew from torch's global generator; draw only from the generator "
            "it is given (torch.randn(..., generator=generator)), so schemes are reproducible."
        )
    if not torch.equal(first, second):
        raise AssertionError("two runs with the same seed gave different rows.")


def check_corruption_missing_flag(corruption: Any, inputs: Inputs) -> None:
    """``missing`` is a bool: True only for kinds that remove the mode."""
    del inputs
    if not isinstance(getattr(corruption, "missing", None), bool):
        raise AssertionError(
            "the corruption must have a boolean 'missing' attribute (subclass "
            "emma_plugins.corruptions.Corruption, or set missing = True to remove the mode)."
        )


CORRUPTION_CHECKS = (
    check_corruption_missing_flag,
    check_corruption_output,
    check_corruption_seeded,
)


def corruption_case(registration: Registration, params: Params = None) -> Case:
    (shape,) = mode_shapes_for("corruption", registration)
    corruption = registration.build(fast_params(registration, params))
    return Case(corruption, corruption_inputs(shape))


def check_corruption(corruption: Any, inputs: Inputs | None = None) -> None:
    """Run every corruption check on ``corruption`` (default: flat rows of 4 values)."""
    run_kit(KIT, Case(corruption, inputs or corruption_inputs()))


def check_registered_corruption(kind: str, params: Params = None) -> None:
    """Build the installed corruption ``kind`` with fast parameters and run every check."""
    run_kit(KIT, corruption_case(registration_of("corruption", kind), params), kind)


KIT = FamilyKit("corruption", CORRUPTION_CHECKS, corruption_case)
