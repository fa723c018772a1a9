"""Class-probability networks under the common ``[N, out_features]`` logits interface.

Evidential and energy-based fusion needs at least two classes, while a binary spec has
``out_features == 1`` (one logit, binary cross-entropy). These networks therefore work
with ``K = max(2, out_features)`` class logits inside and convert to the spec's layout at
the output: for one output feature the single logit is ``l_1 - l_0``, whose sigmoid is
exactly the softmax probability of class 1.
"""

from __future__ import annotations

from torch import Tensor


def class_count(out_features: int) -> int:
    """Classes the network models internally (a binary spec's one logit means two classes)."""
    if out_features < 1:
        raise ValueError(f"out_features must be at least 1, got {out_features}.")
    return max(2, out_features)


def to_output_logits(class_logits: Tensor, out_features: int) -> Tensor:
    """``[..., K]`` class logits (or log-probabilities) in the spec's ``[..., out_features]``."""
    if out_features == 1:
        return (class_logits[..., 1] - class_logits[..., 0]).unsqueeze(-1)
    return class_logits
