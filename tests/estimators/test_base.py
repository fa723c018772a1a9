"""`as_tensor`: tensors, numpy arrays and pandas frames in; pandas is never imported for it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from emma_plugins.estimators import as_tensor


def test_as_tensor_accepts_arrays_tensors_and_frames() -> None:
    values = np.arange(6.0).reshape(3, 2)
    expected = torch.tensor(values, dtype=torch.float32)
    for data in (values, torch.tensor(values), pd.DataFrame(values)):
        out = as_tensor(data)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, expected)
    torch.testing.assert_close(as_tensor(pd.Series([1.0, 2.0])), torch.tensor([1.0, 2.0]))
    assert as_tensor(values, dtype=torch.float64).dtype == torch.float64


def test_as_tensor_refuses_other_types_and_says_what_it_takes() -> None:
    with pytest.raises(TypeError, match="numpy array or pandas DataFrame, got list"):
        as_tensor([[1.0, 2.0]])  # type: ignore[arg-type]
