"""A missing mode: the values are gone and the sample's missing mask says so."""

from __future__ import annotations

import torch
from torch import Tensor

from emma_plugins.corruptions.base import Corruption, CorruptionContext


class MissingMode(Corruption):
    """Replaces the mode by zeros and flags it missing.

    The zeros are a placeholder, not information: on standardized data 0 is the training
    mean, a perfectly typical value. Models must read the missing mask, not the zeros.
    """

    missing = True

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        return torch.zeros_like(x)
