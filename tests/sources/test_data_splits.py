"""Stratified splits (table 6.1 of the thesis) and standardization fitted on train only."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins.core.errors import DataError
from emma_plugins.sources import (
    DataWarning,
    MultiModalData,
    Standardizer,
    carve_validation,
    split,
    stratified_indices,
)
from emma_plugins.sources.splits import MIN_ROWS_PER_CLASS


def dataset(counts: list[int], seed: int = 0, columns: int = 3) -> MultiModalData:
    rng = np.random.default_rng(seed)
    target = np.repeat(np.arange(len(counts)), counts)
    features = pd.DataFrame(
        rng.normal(5.0, 3.0, size=(len(target), columns)), columns=[f"f{i}" for i in range(columns)]
    )
    return MultiModalData(
        name="toy",
        features=features,
        target=target,
        modes={"m": list(features.columns)},
        task="binary" if len(counts) == 2 else "multiclass",
        n_classes=len(counts),
    )


def test_reproduces_thesis_table_6_1() -> None:
    target = np.repeat([0, 1], [16_259, 1_639])
    parts = stratified_indices(target, seed=0)
    counts = {k: np.bincount(target[v], minlength=2).tolist() for k, v in parts.items()}
    assert counts == {"train": [10_894, 1_098], "val": [2_683, 270], "test": [2_682, 271]}


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(1, 300), min_size=1, max_size=5),
    seed=st.integers(0, 2**31),
    train=st.floats(0.1, 0.9),
)
def test_split_fractions_per_class(counts: list[int], seed: int, train: float) -> None:
    target = np.repeat(np.arange(len(counts)), counts)
    parts = stratified_indices(target, seed, train)
    together = np.concatenate(list(parts.values()))
    assert np.array_equal(np.sort(together), np.arange(len(target)))  # a partition
    for label, n in enumerate(counts):
        n_train = int(np.sum(target[parts["train"]] == label))
        n_val = int(np.sum(target[parts["val"]] == label))
        assert abs(n_train - train * n) <= 0.5 + 1e-9
        assert abs(n_val - (n - n_train) / 2) <= 0.5
    assert abs(len(parts["val"]) - len(parts["test"])) <= 1


def test_seeded_determinism() -> None:
    data = dataset([200, 40])
    a, b, c = split(data, seed=3), split(data, seed=3), split(data, seed=4)
    for name in ("train", "val", "test"):
        assert np.array_equal(a.indices[name], b.indices[name])
    assert a.train.features.equals(b.train.features)
    assert not np.array_equal(a.indices["train"], c.indices["train"])


def test_split_rows_come_from_the_source() -> None:
    data = dataset([50, 30])
    parts = split(data, seed=0, standardize=False)
    rows = data.features.to_numpy()[parts.indices["val"]]
    assert np.array_equal(parts.val.features.to_numpy(), rows)
    assert np.array_equal(parts.val.target, data.target[parts.indices["val"]])
    train, val, test = parts
    assert len(train) + len(val) + len(test) == len(data)


def test_standardizer_is_fitted_on_train_only() -> None:
    data = dataset([300, 100])
    raw = split(data, seed=1, standardize=False)
    # Make validation and test rows wildly different from training rows.
    shifted = data.features.copy()
    outside = np.concatenate([raw.indices["val"], raw.indices["test"]])
    shifted.iloc[outside] += 1_000.0
    data = data.replace_features(shifted)
    parts = split(data, seed=1)
    train_raw = data.features.iloc[parts.indices["train"]]
    mean, std = train_raw.mean(), train_raw.std(ddof=0)
    assert np.allclose(parts.train.features.mean(), 0.0, atol=1e-9)
    assert np.allclose(parts.train.features.std(ddof=0), 1.0)
    val_raw = data.features.iloc[parts.indices["val"]].reset_index(drop=True)
    assert np.allclose(parts.val.features, (val_raw - mean) / std)
    assert parts.val.features.mean().min() > 100  # far away: the scaler never saw them
    assert parts.standardizer is not None
    assert np.allclose(parts.standardizer.mean_, mean)


def test_inputs_are_not_modified() -> None:
    data = dataset([60, 40])
    before = data.features.copy()
    split(data, seed=0)
    pd.testing.assert_frame_equal(data.features, before)


def test_constant_column_becomes_zero_not_nan() -> None:
    data = dataset([40, 20])
    features = data.features.copy()
    features["f1"] = 7.0
    scaled = Standardizer().fit_transform(data.replace_features(features))
    assert scaled.features["f1"].abs().max() == 0.0
    assert not scaled.features.isna().any().any()


def test_standardizer_round_trips_through_a_dict() -> None:
    data = dataset([40, 20])
    scaler = Standardizer().fit(data)
    again = Standardizer.from_dict(scaler.to_dict())
    pd.testing.assert_frame_equal(again.transform(data).features, scaler.transform(data).features)


def test_unfitted_standardizer_and_bad_fraction() -> None:
    with pytest.raises(DataError, match="not fitted"):
        Standardizer().transform(dataset([5, 5]))
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        split(dataset([5, 5]), seed=0, train=1.0)


def test_rows_are_shuffled_within_splits() -> None:
    parts = split(dataset([100, 100]), seed=0, standardize=False)
    # Not in class blocks: the trainer may rely on batches mixing classes.
    assert 0 < parts.train.target[: len(parts.train) // 2].mean() < 1


def with_predefined(counts: list[int], labels: list[str]) -> MultiModalData:
    data = dataset(counts)
    return MultiModalData(
        name=data.name,
        features=data.features,
        target=data.target,
        modes=data.modes,
        task=data.task,
        n_classes=data.n_classes,
        predefined_split=np.array(labels),
    )


def test_predefined_split_is_honoured_and_standardized_on_its_train_rows() -> None:
    labels = ["train", "val", "test", "train"] * 10
    data = with_predefined([20, 20], labels)
    parts = split(data, seed=0, train=0.5)  # train fraction ignored
    for name in ("train", "val", "test"):
        assert sorted(parts.indices[name].tolist()) == [
            i for i, label in enumerate(labels) if label == name
        ]
    assert (len(parts.train), len(parts.val), len(parts.test)) == (20, 10, 10)
    assert parts.standardizer is not None
    raw_train = data.features.iloc[parts.indices["train"]]
    assert np.allclose(parts.standardizer.mean_, raw_train.mean(axis=0))
    assert np.allclose(parts.train.features.mean(axis=0), 0.0, atol=1e-9)
    other = split(data, seed=1)
    assert not np.array_equal(parts.indices["train"], other.indices["train"])  # order only
    assert sorted(other.indices["train"].tolist()) == sorted(parts.indices["train"].tolist())


def test_predefined_split_needs_train_and_test_rows() -> None:
    with pytest.raises(DataError, match="no test rows"):
        split(with_predefined([2, 2], ["train", "val", "train", "val"]), seed=0)
    with pytest.warns(DataWarning, match="fewer than 5 rows"):  # allowed, but flagged
        empty_val = split(with_predefined([2, 2], ["train", "test", "train", "test"]), seed=0)
    assert len(empty_val.val) == 0


def test_carve_validation_is_stratified_and_seeded() -> None:
    target = np.repeat(np.arange(3), [10, 20, 40])
    rows = np.arange(5, 70)  # the training rows: class 0 has 5 of them
    chosen = carve_validation(target, rows, 0.25, seed=0)
    assert set(chosen.tolist()) <= set(rows.tolist())
    assert np.bincount(target[chosen], minlength=3).tolist() == [1, 5, 10]  # round(0.25 n_c)
    assert np.array_equal(chosen, carve_validation(target, rows, 0.25, seed=0))
    assert not np.array_equal(chosen, carve_validation(target, rows, 0.25, seed=1))
    assert len(carve_validation(target, rows, 0.0, seed=0)) == 0
    with pytest.raises(DataError, match=r"val_fraction must lie in \[0, 1\)"):
        carve_validation(target, rows, 1.0, seed=0)


# -- refusing data that cannot be trained or scored meaningfully ----------------------------


def test_a_single_class_data_set_is_refused() -> None:
    data = dataset([10, 0])  # binary, but every row is class 0
    with pytest.raises(DataError) as info:
        split(data, seed=0)
    message = str(info.value)
    assert "data set 'toy': the training split holds only 7 rows of class 0" in message
    assert "at least two classes" in message and "check its target" in message


def test_a_predefined_training_split_with_one_class_is_refused() -> None:
    data = with_predefined([4, 4], ["train"] * 4 + ["test"] * 4)
    with pytest.raises(DataError, match=r"training split holds only 4 rows of class 0"):
        split(data, seed=0)


def test_an_empty_test_split_is_refused() -> None:
    with pytest.raises(DataError, match=r"'toy': the test split is empty"):
        split(dataset([1, 1]), seed=0)


def test_ten_rows_warn_that_scores_are_undefined() -> None:
    with pytest.warns(DataWarning) as record:
        split(dataset([9, 1]), seed=0)
    (warning,) = record
    message = str(warning.message)
    assert "data set 'toy' (10 rows) is too small to split meaningfully" in message
    assert "the test split has no rows of class 1" in message and "F1 reads 0.0" in message
    assert warning.filename == __file__  # points at the caller of split
    with pytest.warns(DataWarning, match=r"the test split has fewer than 5 rows of classes 0, 1"):
        split(dataset([5, 5]), seed=0)


def test_enough_rows_split_quietly() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split(dataset([40, 40, 40]), seed=0)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 12), min_size=2, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_split_refuses_or_warns_exactly_when_it_should(counts: list[int], seed: int) -> None:
    if sum(counts) == 0:
        return
    data = dataset(counts, seed=seed % 7)
    parts = stratified_indices(data.target, seed)
    per_split = {k: np.bincount(data.target[v], minlength=len(counts)) for k, v in parts.items()}
    present = [c for c, n in enumerate(counts) if n]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            result = split(data, seed=seed)
        except DataError as exc:
            assert per_split["test"].sum() == 0 or np.count_nonzero(per_split["train"]) < 2, str(
                exc
            )
            return
    assert np.count_nonzero(np.bincount(result.train.target)) >= 2 and len(result.test) > 0
    weak = any(per_split[k][c] < MIN_ROWS_PER_CLASS for k in per_split for c in present)
    assert any(issubclass(w.category, DataWarning) for w in record) == weak


def test_unsupervised_data_has_one_class_by_design() -> None:
    features = pd.DataFrame(np.random.default_rng(0).normal(size=(30, 2)), columns=["x", "y"])
    points = MultiModalData(
        name="points",
        features=features,
        target=np.zeros(30, dtype=np.int64),
        modes={"xy": ["x", "y"]},
        task="unsupervised",
        n_classes=1,
    )
    assert len(split(points, seed=0).train) == 20


# -- non-finite values and overflow in scaling ----------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    big=st.floats(1e155, 1.7e308),
    sign=st.sampled_from([1.0, -1.0]),
    row=st.integers(0, 29),
    column=st.integers(0, 2),
)
def test_standardizer_refuses_overflow_naming_column_and_row(
    big: float, sign: float, row: int, column: int
) -> None:
    data = dataset([15, 15])
    features = data.features.copy()
    features.iloc[row, column] = sign * big
    with pytest.raises(DataError) as info:
        Standardizer().fit(data.replace_features(features))
    message = str(info.value)
    assert f"column 'f{column}' cannot be standardized" in message
    assert f"at row {row}," in message and "overflows float64" in message


def test_1e308_never_becomes_a_silent_zero_column() -> None:
    data = dataset([40, 20])
    features = data.features.copy()
    features.loc[7, "f1"] = 1e308
    with pytest.raises(DataError, match=r"'toy': row 7, column 'f1' is 1e\+308, beyond float32"):
        split(data.replace_features(features), seed=0)
    with pytest.raises(DataError, match=r"column 'f1' cannot be standardized.*at row 7"):
        Standardizer().fit(data.replace_features(features))


def test_split_names_the_source_row_of_a_bad_value() -> None:
    data = dataset([60, 60])
    features = data.features.copy()
    features.loc[33, "f2"] = np.nan
    with pytest.raises(DataError, match=r"'toy': row 33, column 'f2' is nan; every feature"):
        split(data.replace_features(features), seed=1)
    raw = split(data, seed=1, standardize=False)
    scaler = Standardizer().fit(raw.train, rows=raw.indices["train"])
    val = raw.val.features.copy()
    val.iloc[2, 0] = np.inf
    with pytest.raises(DataError, match=rf"row {raw.indices['val'][2]}, column 'f0' is inf"):
        scaler.transform(raw.val.replace_features(val), rows=raw.indices["val"])


def test_transform_refuses_values_beyond_float32_after_scaling() -> None:
    data = dataset([30, 30])
    features = data.features.copy()
    features["f0"] = features["f0"] * 1e-6  # a tiny training spread
    scaler = Standardizer().fit(data.replace_features(features))
    features.loc[4, "f0"] = 1e36
    with pytest.raises(DataError) as info:
        scaler.transform(data.replace_features(features))
    message = str(info.value)
    assert "row 4, column 'f0': 1e+36 standardizes to" in message
    assert "beyond float32's range" in message


def test_a_saved_scaler_with_unusable_statistics_is_refused() -> None:
    state = Standardizer().fit(dataset([20, 20])).to_dict()
    state["std"]["f1"] = float("inf")
    with pytest.raises(DataError, match=r"statistics for column 'f1' are not usable"):
        Standardizer.from_dict(state)
