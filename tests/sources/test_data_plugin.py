"""Data sets as a registry family: built-ins, params validation, plugins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from emma_plugins import get_registry, hookimpl
from emma_plugins.core.errors import DataError, UnknownKindError
from emma_plugins.core.plugins import plugin_host
from emma_plugins.sources import MultiModalData, load_dataset

pytestmark = pytest.mark.usefixtures("clean_plugins")


def test_the_bundled_data_set_is_a_builtin_kind() -> None:
    entry = get_registry("dataset").get("breast_cancer")
    assert entry.provider == "emma-plugins"
    assert load_dataset("breast_cancer").mode_names == ["mean", "error", "worst"]


def test_load_dataset_validates_params() -> None:
    with pytest.raises(ValidationError, match="n_points"):
        load_dataset("breast_cancer", n_points=3)
    with pytest.raises(UnknownKindError, match="Did you mean 'breast_cancer'"):
        load_dataset("breast_cancr")


def test_plugin_dataset_loads_through_the_registry() -> None:
    def tiny() -> MultiModalData:
        return MultiModalData(
            name="tiny",
            features=pd.DataFrame({"a": [0.0, 1.0], "b": [2.0, 3.0]}),
            target=np.array([0, 1]),
            modes={"one": ["a"], "two": ["b"]},
            task="binary",
            n_classes=2,
        )

    class Plugin:
        @hookimpl
        def register_datasets(self, register):  # type: ignore[no-untyped-def]
            register("tiny", tiny)
            register("broken", lambda: "not data")

    plugin_host().register(Plugin(), "emma-tiny", "tiny")
    assert load_dataset("tiny").mode_names == ["one", "two"]
    assert get_registry("dataset").get("tiny").provider == "emma-tiny"
    with pytest.raises(DataError, match="must return MultiModalData"):
        load_dataset("broken")
