"""Metric inputs as flat numpy arrays, from tensors or array-likes."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor


def as_array(values: Any, name: str, dtype: type = float) -> np.ndarray:
    """``values`` (a tensor, array or sequence) as a numpy array of ``dtype``."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    array: np.ndarray = np.asarray(values, dtype=dtype)
    if array.size == 0:
        raise ValueError(f"{name} is empty; pass at least one value.")
    return array
