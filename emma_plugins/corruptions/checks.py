"""Checks the corruption kinds share: their parameters, and the rank of the rows they get.

Each error names the kind and the field, so a spec author sees what to change.
"""

from __future__ import annotations

import math

from torch import Tensor

from emma_plugins.corruptions.base import CorruptionContext, CorruptionError


def non_negative(value: float, name: str) -> float:
    """``value`` as a float; ``name`` (e.g. ``"gaussian sigma"``) when it is below 0 or NaN."""
    if not value >= 0.0:
        raise CorruptionError(f"{name} must be >= 0, got {value!r}.")
    return float(value)


def finite(value: float, name: str) -> float:
    """``value`` as a float; ``name`` (e.g. ``"drift offset"``) when it is infinite or NaN."""
    if not math.isfinite(value):
        raise CorruptionError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


def in_range(
    value: float, name: str, low: float, high: float, *, high_inclusive: bool = False
) -> float:
    """``value`` as a float when it lies in ``(low, high)`` (``(low, high]`` if inclusive)."""
    inside = low < value <= high if high_inclusive else low < value < high
    if not inside:
        bracket = "]" if high_inclusive else ")"
        raise CorruptionError(f"{name} must be in ({low:g}, {high:g}{bracket}, got {value!r}.")
    return float(value)


def positive_int(value: int, name: str) -> int:
    """``value`` when it is an int >= 1 (a bool is refused: ``True`` is not a size)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CorruptionError(f"{name} must be a positive integer, got {value!r}.")
    return value


def require_dims(
    x: Tensor,
    dims: int,
    kind: str,
    context: CorruptionContext,
    needs: str,
    *,
    hint: str | None = None,
) -> None:
    """Fail clearly when ``x`` has fewer than ``dims`` dimensions, the least ``kind`` acts on.

    ``needs`` says what the kind needs; ``hint`` names the shape the data set must give the
    mode (``"image"``: the error then shows ``x``'s shape and where shapes are declared).
    """
    if x.dim() >= dims:
        return
    message = f"{kind} on mode {context.mode!r} needs {needs}"
    if hint is None:
        raise CorruptionError(f"{message}.")
    raise CorruptionError(
        f"{message}, got {tuple(x.shape)}; give the data set's {hint} shape "
        "(MultiModalData.shapes)."
    )
