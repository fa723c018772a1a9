"""The checks the corruption kinds share: parameter values and the rank of the rows."""

from __future__ import annotations

import pytest
import torch

from emma_plugins.corruptions import CorruptionContext, CorruptionError
from emma_plugins.corruptions.checks import non_negative, positive_int, require_dims

CTX = CorruptionContext("image")


def test_non_negative_returns_a_float_and_refuses_negatives_and_nan() -> None:
    assert non_negative(0, "k sigma") == 0.0 and isinstance(non_negative(2, "k sigma"), float)
    for bad in (-0.1, float("nan")):
        with pytest.raises(CorruptionError, match=r"k sigma must be >= 0, got"):
            non_negative(bad, "k sigma")


def test_positive_int_refuses_zero_floats_and_bools() -> None:
    assert positive_int(3, "k size") == 3
    for bad in (0, 2.0, True):
        with pytest.raises(CorruptionError, match=r"k size must be a positive integer"):
            positive_int(bad, "k size")  # type: ignore[arg-type]


def test_require_dims_names_the_kind_the_mode_and_the_fix() -> None:
    require_dims(torch.zeros(2, 3), 2, "k", CTX, "rows")
    with pytest.raises(CorruptionError, match=r"^k on mode 'image' needs rows\.$"):
        require_dims(torch.zeros(3), 2, "k", CTX, "rows")
    with pytest.raises(
        CorruptionError,
        match=r"needs images, got \(2, 3\); give the data set's image shape \(MultiModalData",
    ):
        require_dims(torch.zeros(2, 3), 3, "k", CTX, "images", hint="image")
