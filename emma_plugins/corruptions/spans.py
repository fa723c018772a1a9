"""Random contiguous spans, the building block of time masks and occluding patches."""

from __future__ import annotations

import torch
from torch import Tensor

from emma_plugins.corruptions.base import CorruptionError


def random_span_mask(
    n: int, length: int, width: int, generator: torch.Generator, *, what: str
) -> Tensor:
    """``(n, length)`` bool: per row, ``width`` consecutive True at a uniform random start.

    The start is uniform over the ``length - width + 1`` positions that keep the span
    inside, drawn on the generator's device and returned there.
    """
    if not 1 <= width <= length:
        raise CorruptionError(
            f"{what} of {width} does not fit an axis of length {length}; choose 1..{length}."
        )
    device = generator.device
    starts = torch.randint(0, length - width + 1, (n, 1), generator=generator, device=device)
    steps = torch.arange(length, device=device)
    return (steps >= starts) & (steps < starts + width)
