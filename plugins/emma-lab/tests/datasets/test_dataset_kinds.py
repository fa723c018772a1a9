"""The lab's data sets load through the library's dataset registry and validate their params."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from emma_plugins.core.errors import UnknownKindError
from emma_plugins.sources import load_dataset


def test_load_dataset_validates_params() -> None:
    assert len(load_dataset("wave", {"n": 20}, seed=1)) == 20
    with pytest.raises(ValidationError, match="n_points"):
        load_dataset("wave", n_points=3)
    with pytest.raises(ValidationError):
        load_dataset("circle", n=0)
    with pytest.raises(UnknownKindError, match="Did you mean 'htru2'"):
        load_dataset("htru")
    with pytest.raises(ValidationError, match="val_fraction"):
        load_dataset("av_digits", val_fraction=1.0)
