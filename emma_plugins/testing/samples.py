"""How a kind tells the kit what to feed it: a small sample shape and fast parameters.

A factory (a class or a function) may carry two optional attributes, read only by
`emma_plugins.testing`:

``conformance_shape``
    The shape of one sample the kind accepts, without the batch dimension: ``(1, 6, 6)``
    for an image estimator (``cnn``), ``(5, 2)`` for a sequence estimator (``lstm``),
    ``(12, 4)`` for a corruption of spectrograms. Networks and the endogenous and
    cross-modal stages get two modes of this shape. Without it the kit uses the family's
    default (`DEFAULT_SHAPES`): flat vectors.

``conformance_params``
    Parameter values that keep the checks fast (one epoch, a few hidden units), e.g.
    ``{"epochs": 1, "hidden": 8}``. They are validated by the kind's parameter model like
    a spec's, and the values a caller passes to a ``check_registered_*`` function are laid
    over them.

Both are plain class attributes, so declaring them imports nothing from the kit::

    class ConvEnergy(StructuredEnergy):
        conformance_shape = (1, 6, 6)
        conformance_params = {"epochs": 1, "channels": [4], "features": 8, "experts": 8}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from pydantic import BaseModel
from torch import Tensor

from emma_plugins.core.registry import Registration

SHAPE_ATTRIBUTE = "conformance_shape"
PARAMS_ATTRIBUTE = "conformance_params"

#: family -> the sample shape (or, for multi-mode families, the mode shapes) used when a
#: kind declares none. Two modes of different sizes catch networks that mix them up.
DEFAULT_SHAPES: Mapping[str, tuple[tuple[int, ...], ...]] = {
    "estimator": ((4,),),
    "corruption": ((4,),),
    "network": ((3,), (5,)),
    "endogenous": ((3,), (5,)),
    "cross_modal": ((3,), (5,)),
}

#: Modes of the attention stages' samples (three, so that two-mode shortcuts show).
N_MODES = 3

#: Samples per batch in the checks (at least 3: the batch-independence checks need them).
N_SAMPLES = 8


def declared_shape(registration: Registration) -> tuple[int, ...] | None:
    """The ``conformance_shape`` the kind's factory declares, if any."""
    shape = getattr(registration.factory, SHAPE_ATTRIBUTE, None)
    if shape is None:
        return None
    if not isinstance(shape, Sequence) or not all(isinstance(s, int) and s > 0 for s in shape):
        raise AssertionError(
            f"{SHAPE_ATTRIBUTE} of kind {registration.kind!r} must be a tuple of positive ints "
            f"(one sample, no batch dimension), got {shape!r}."
        )
    return tuple(shape)


def mode_shapes_for(family: str, registration: Registration) -> list[tuple[int, ...]]:
    """Sample shapes of the modes the kit builds ``registration`` for."""
    shape = declared_shape(registration)
    defaults = DEFAULT_SHAPES.get(family, ((4,),))
    if shape is None:
        return list(defaults)
    return [shape] * len(defaults)


def fast_params(
    registration: Registration, params: BaseModel | Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The kind's ``conformance_params`` with ``params`` laid over them."""
    declared = getattr(registration.factory, PARAMS_ATTRIBUTE, None) or {}
    if not isinstance(declared, Mapping):
        raise AssertionError(
            f"{PARAMS_ATTRIBUTE} of kind {registration.kind!r} must be a mapping of parameter "
            f"values, got {type(declared).__name__}."
        )
    given = params.model_dump() if isinstance(params, BaseModel) else dict(params or {})
    given.pop("kind", None)
    return {**declared, **given}


def sample(shape: Sequence[int], n: int = N_SAMPLES, seed: int = 0) -> Tensor:
    """``n`` standard normal samples of ``shape``, float32, from a seeded generator."""
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


def present_mask(n: int, n_modes: int) -> Tensor:
    """``[n, n_modes]`` bool: every mode present, except a few missing ones in later rows
    (never all of a row, except the last row when ``n >= 4``, which has none present)."""
    present = torch.ones(n, n_modes, dtype=torch.bool)
    for row in range(1, n - 1):
        if row % 2:
            present[row, row % n_modes] = False
    if n >= 4:
        present[-1] = False
    return present
