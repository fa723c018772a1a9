"""`prepare`: one seed's splits as tensors, and each mode's policy for missing values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emma_plugins.core.errors import DataError
from emma_plugins.sources import load_breast_cancer
from emma_plugins.spec.sections import CorruptionTrainingSpec
from emma_plugins.training.prepare import prepare

MODES = ["mean", "error", "worst"]


def with_holes():
    data = load_breast_cancer()
    features = data.features.copy()
    features.iloc[::10, 2] = np.nan  # every tenth row: one "mean" cell missing
    return data.replace_features(features)


def test_the_same_seed_prepares_the_same_tensors() -> None:
    a = prepare(load_breast_cancer(), MODES, seed=3, corruption=CorruptionTrainingSpec())
    b = prepare(load_breast_cancer(), MODES, seed=3, corruption=CorruptionTrainingSpec())
    for name in ("train", "val", "test"):
        for x, y in zip(a.mixed[name].modes, b.mixed[name].modes, strict=True):
            assert torch.equal(x, y)


def test_missing_values_mask_their_mode_in_that_row() -> None:
    prepared = prepare(
        with_holes(),
        MODES,
        seed=0,
        corruption=CorruptionTrainingSpec(),
        on_missing={"mean": "missing"},
    )
    train = prepared.clean["train"]
    holes = train.missing[:, 0]
    assert 0.05 < holes.float().mean() < 0.15 and not train.missing[:, 1:].any()
    assert torch.isfinite(train.modes[0]).all()
    assert (train.xi[holes, 0] == -1).all()
    assert (prepared.mixed["train"].missing[:, 0] >= holes).all()
    assert not np.isnan(prepared.splits.standardizer.mean_).any()


def test_impute_mean_fills_with_the_training_mean() -> None:
    prepared = prepare(
        with_holes(),
        MODES,
        seed=0,
        corruption=CorruptionTrainingSpec(),
        on_missing={"mean": "impute_mean"},
    )
    train = prepared.clean["train"]
    assert not train.missing.any()
    raw = prepared.splits.train.features[prepared.splits.train.modes["mean"][2]]
    holes = torch.from_numpy(raw.isna().to_numpy().copy())
    assert (train.modes[0][holes, 2] == 0).all()


def test_a_mode_without_a_policy_refuses_its_missing_values_by_row_and_column() -> None:
    with pytest.raises(DataError, match=r"row \d+, column 'mean perimeter' of mode 'mean'"):
        prepare(
            with_holes(),
            MODES,
            seed=0,
            corruption=CorruptionTrainingSpec(),
            on_missing={"error": "missing"},
        )
    with pytest.raises(DataError, match="finite"):
        prepare(with_holes(), MODES, seed=0, corruption=CorruptionTrainingSpec())


def test_the_spec_default_train_fraction_is_the_splits_default() -> None:
    from emma_plugins.sources.splits import TRAIN_FRACTION
    from emma_plugins.spec.sections import DataSpec

    assert DataSpec.model_fields["train_fraction"].default == TRAIN_FRACTION
