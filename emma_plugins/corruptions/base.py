"""The corruption contract: a failing mode simulated on a batch of rows, never in place.

A corruption receives the rows of ONE mode that were chosen to fail and returns new rows.
It draws randomness only from the generator it is given, so a seeded scheme is
reproducible. `CorruptionContext` carries what some kinds need beyond the rows themselves.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from emma_plugins.core.errors import EmmaError


class CorruptionError(EmmaError, ValueError):
    """A corruption or corruption scheme was misconfigured or lacks what it needs."""


@dataclass(frozen=True)
class CorruptionContext:
    """What a corruption may use besides the rows it corrupts.

    :param mode: name of the mode being corrupted.
    :param labels: class of each row being corrupted, ``(n,)`` int64, or ``None``.
    :param pool: every clean row of this mode in the split, ``(N, *shape)`` (e.g. to draw
        rows of another class).
    :param pool_labels: class of each pool row, ``(N,)``.
    :param mean: training mean of each feature of the mode (``None``: standardized data, 0).
    :param std: training standard deviation of each feature (``None``: standardized, 1).
    """

    mode: str
    labels: Tensor | None = None
    pool: Tensor | None = None
    pool_labels: Tensor | None = None
    mean: Tensor | None = None
    std: Tensor | None = None

    def require(self, *names: str, kind: str) -> None:
        """Fail clearly when a field the corruption ``kind`` needs was not supplied."""
        absent = [n for n in names if getattr(self, n) is None]
        if absent:
            raise CorruptionError(
                f"corruption {kind!r} on mode {self.mode!r} needs {', '.join(absent)} in its "
                "context; pass the labels y to CorruptionScheme.apply."
            )


class Corruption(ABC):
    """Base class of corruption kinds (the ``corruption`` registry family).

    Subclasses implement `__call__` and return a NEW tensor shaped like ``x``. Set the class
    attribute ``missing = True`` for kinds that remove the mode: the scheme then flags it in
    the missing mask, and models must rely on that mask rather than on the values.

    ``severity`` names the parameter (a field of the kind's params model) that a benchmark
    sweeps to make the failure worse, e.g. ``"sigma"`` for ``gaussian``; ``None`` for kinds
    without such a knob (``ood``, ``missing``). Whether worse means larger or smaller is
    the kind's (``clip``: a lower percentile saturates more).
    """

    missing: ClassVar[bool] = False
    severity: ClassVar[str | None] = None

    @abstractmethod
    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        """Corrupted copy of ``x`` (rows of one mode, ``(n, *shape)``)."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def draw_normal(like: Tensor, generator: torch.Generator) -> Tensor:
    """Standard normal noise shaped like ``like``, drawn on the generator's device."""
    noise = torch.randn(like.shape, generator=generator, device=generator.device)
    return noise.to(device=like.device, dtype=like.dtype)


def draw_uniform(like: Tensor, generator: torch.Generator) -> Tensor:
    """U[0, 1) values shaped like ``like``, drawn on the generator's device."""
    values = torch.rand(like.shape, generator=generator, device=generator.device)
    return values.to(device=like.device, dtype=like.dtype)


def training_stats(x: Tensor, context: CorruptionContext, kind: str) -> tuple[Tensor, Tensor]:
    """Training mean and std per feature, shaped ``(1, *x.shape[1:])`` in ``x``'s dtype.

    ``None`` in the context means standardized data (mean 0, std 1). A statistic may be
    given in the sample's shape, broadcastable to it, or flat with one value per feature;
    anything else is an error naming ``kind`` and the mode.
    """
    return (
        _per_feature(context.mean, 0.0, x, "mean", context, kind),
        _per_feature(context.std, 1.0, x, "std", context, kind),
    )


def _per_feature(
    value: Tensor | None,
    default: float,
    x: Tensor,
    name: str,
    context: CorruptionContext,
    kind: str,
) -> Tensor:
    shape = (1, *x.shape[1:])
    if value is None:
        return torch.full(shape, default, dtype=x.dtype, device=x.device)
    value = torch.as_tensor(value).to(device=x.device, dtype=x.dtype)
    features = math.prod(x.shape[1:])
    if value.numel() in (1, features):
        return value.reshape(-1).expand(features).reshape(shape)
    try:
        return value.expand(x.shape[1:]).reshape(shape)
    except RuntimeError:
        raise CorruptionError(
            f"{kind} on mode {context.mode!r}: the training {name} has shape "
            f"{tuple(value.shape)}, which fits neither the sample shape {tuple(x.shape[1:])} "
            "nor one value per feature."
        ) from None
