"""MultiModalData: validation, per-mode views, subsets, and no shared state with callers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from emma_plugins.core.errors import DataError
from emma_plugins.sources import MultiModalData


def make(**changes: object) -> MultiModalData:
    values: dict[str, object] = {
        "name": "toy",
        "features": pd.DataFrame(np.arange(20.0).reshape(5, 4), columns=["a", "b", "c", "d"]),
        "target": np.array([0, 1, 0, 1, 1]),
        "modes": {"first": ["a", "b"], "second": ["d", "c"]},
        "task": "binary",
        "n_classes": 2,
    }
    values.update(changes)
    return MultiModalData(**values)  # type: ignore[arg-type]


def test_mode_arrays_follow_mode_and_column_order() -> None:
    data = make()
    first, second = data.mode_arrays()
    assert first.dtype == np.float32 and first.shape == (5, 2)
    assert second[0].tolist() == [3.0, 2.0]  # columns d, c as listed
    (only,) = data.mode_arrays(["second"])
    assert np.array_equal(only, second)
    assert data.mode_shapes == [(2,), (2,)]


def test_to_tensors_in_requested_order() -> None:
    data = make()
    modes, target = data.to_tensors(["second", "first"])
    assert [m.dtype for m in modes] == [torch.float32, torch.float32]
    assert modes[1][1].tolist() == [4.0, 5.0]
    assert target.dtype == torch.int64 and target.tolist() == [0, 1, 0, 1, 1]


def test_arrays_do_not_alias_the_table() -> None:
    data = make()
    data.mode_arrays()[0][:] = -1
    modes, target = data.to_tensors()
    modes[0].zero_()
    target.zero_()
    assert data.features["a"].tolist() == [0.0, 4.0, 8.0, 12.0, 16.0]
    assert data.target.tolist() == [0, 1, 0, 1, 1]


def test_subset_keeps_order_and_leaves_source_alone() -> None:
    data = make()
    part = data.subset([4, 0])
    assert len(part) == 2 and part.target.tolist() == [1, 0]
    assert part.features["a"].tolist() == [16.0, 0.0]
    assert list(part.features.index) == [0, 1]
    assert len(data) == 5
    assert len(data.subset(np.array([True, False, True, False, False]))) == 2


def test_caller_arrays_are_copied() -> None:
    target = np.array([0, 1, 0, 1, 1])
    data = make(target=target)
    target[0] = 1
    assert data.target[0] == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"modes": {"first": ["a", "zz"]}}, "unknown columns"),
        ({"modes": {"first": ["a"], "second": ["a"]}}, "belongs to one mode"),
        ({"modes": {}}, "modes is empty"),
        ({"modes": {"first": []}}, "lists no columns"),
        ({"target": np.array([0, 1])}, "must match row for row"),
        ({"target": np.array([0, 1, 2, 1, 1])}, r"targets must lie in 0\.\.1"),
        ({"target": np.array([0.5, 1, 0, 1, 1])}, "whole class numbers"),
        ({"n_classes": 3}, "needs n_classes=2"),
        ({"task": "regression"}, "task must be one of"),
        ({"task": "multiclass", "n_classes": 1}, "n_classes >= 2"),
    ],
)
def test_invalid_data_is_rejected(changes: dict[str, object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        make(**changes)


def test_unknown_mode_name_lists_available() -> None:
    with pytest.raises(DataError, match="available: first, second"):
        make().mode_arrays(["third"])


def test_class_counts_and_repr() -> None:
    data = make()
    assert data.class_counts().tolist() == [2, 3]
    assert "first=2" in repr(data) and "n=5" in repr(data)


def test_shapes_reshape_arrays_and_tensors() -> None:
    features = pd.DataFrame(np.arange(30.0).reshape(3, 10), columns=[f"c{i}" for i in range(10)])
    data = make(
        features=features,
        target=np.array([0, 1, 0]),
        modes={"img": [f"c{i}" for i in range(6)], "flat": ["c6", "c7", "c8", "c9"]},
        shapes={"img": (1, 2, 3)},
    )
    assert data.mode_shapes == [(1, 2, 3), (4,)]
    img, flat = data.mode_arrays()
    assert img.shape == (3, 1, 2, 3) and flat.shape == (3, 4)
    assert img[1, 0, 1].tolist() == [13.0, 14.0, 15.0]  # row-major
    tensors, _ = data.subset([2, 0]).to_tensors(["img"])
    assert tuple(tensors[0].shape) == (2, 1, 2, 3) and tensors[0][1, 0, 0, 0].item() == 0.0


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ({"first": (3,)}, r"shapes\['first'\] = \(3,\) does not fit the mode's 2 columns"),
        ({"first": (2, 0)}, "positive sizes"),
        ({"third": (2,)}, "unknown mode 'third'"),
    ],
)
def test_bad_shapes_are_rejected(shapes: dict[str, tuple[int, ...]], message: str) -> None:
    with pytest.raises(DataError, match=message):
        make(shapes=shapes)


def test_predefined_split_travels_with_rows() -> None:
    labels = np.array(["train", "train", "val", "test", "train"])
    data = make(predefined_split=labels, shapes={"first": (2, 1)})
    labels[0] = "test"  # the caller's array is copied
    part = data.subset([3, 0])
    assert part.predefined_split is not None and part.predefined_split.tolist() == ["test", "train"]
    scaled = part.replace_features(part.features * 2)
    assert scaled.predefined_split is not None and scaled.predefined_split.tolist() == [
        "test",
        "train",
    ]
    assert scaled.mode_shapes == [(2, 1), (2,)]
    assert make().predefined_split is None and make().shapes is None


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array(["train", "test"]), "one label per row"),
        (np.array(["train", "valid", "test", "test", "train"]), r"holds \['valid'\]"),
    ],
)
def test_bad_predefined_split_is_rejected(labels: np.ndarray, message: str) -> None:
    with pytest.raises(DataError, match=message):
        make(predefined_split=labels)
