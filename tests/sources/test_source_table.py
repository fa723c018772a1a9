"""The ``table`` data set kind: a practitioner's own table, read strictly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins.cli import main
from emma_plugins.core.errors import DataError, SpecError
from emma_plugins.sources import load_dataset, split
from emma_plugins.sources import table as table_module
from emma_plugins.sources.table import select_columns
from emma_plugins.spec import load_spec

pytestmark = pytest.mark.usefixtures("clean_plugins")

MODES = {"a": "sensor_a_*", "b": ["sensor_b_1", "sensor_b_2"], "c": [6, 7, 8, 9]}
HEADER = [
    "id_ignored",
    "sensor_a_1",
    "sensor_a_2",
    "sensor_a_3",
    "sensor_b_1",
    "sensor_b_2",
    "sensor_c_1",
    "sensor_c_2",
    "sensor_c_3",
    "sensor_c_4",
    "diagnosis",
    "part",
]


def sensor_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Three sensor groups (3, 2 and 4 columns), a string label, a split column."""
    rng = np.random.default_rng(seed)
    label = np.where(np.arange(n) % 3 == 0, "faulty", "healthy")
    values = rng.normal(size=(n, 9)) + (label == "faulty")[:, None]
    frame = pd.DataFrame(values.round(4), columns=HEADER[1:10])
    frame.insert(0, "id_ignored", np.arange(n))
    frame["diagnosis"] = label
    frame["part"] = np.array(["train", "train", "train", "val", "test"] * n)[:n]
    return frame


def write_csv(folder: Path, frame: pd.DataFrame | None = None, name: str = "own/t.csv") -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    (sensor_frame() if frame is None else frame).to_csv(path, index=False)
    return name


def write_text(folder: Path, text: str, name: str = "own/t.csv") -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return name


def load(folder: Path, path: str, **params: Any) -> Any:
    values: dict[str, Any] = {"label": "diagnosis", "modes": MODES, **params}
    return load_dataset("table", path=path, data_dir=str(folder), **values)


# -- loading ----------------------------------------------------------------------------------
def test_a_csv_with_three_sensor_groups_and_a_string_label_loads(tmp_path: Path) -> None:
    data = load(tmp_path, write_csv(tmp_path))
    assert data.modes == {
        "a": ["sensor_a_1", "sensor_a_2", "sensor_a_3"],
        "b": ["sensor_b_1", "sensor_b_2"],
        "c": ["sensor_c_1", "sensor_c_2", "sensor_c_3", "sensor_c_4"],
    }
    assert list(data.features.columns) == [c for m in data.modes.values() for c in m]
    assert data.task == "binary" and data.n_classes == 2
    assert data.class_names == ("faulty", "healthy")  # sorted: healthy is class 1
    frame = sensor_frame()
    np.testing.assert_array_equal(data.target, (frame["diagnosis"] == "healthy").astype(int))
    np.testing.assert_allclose(data.features["sensor_c_4"], frame["sensor_c_4"])
    assert data.predefined_split is None
    train, _, test = split(data, seed=0)
    assert train.class_names == ("faulty", "healthy") and len(test) > 0


def test_a_split_column_becomes_the_predefined_split(tmp_path: Path) -> None:
    data = load(tmp_path, write_csv(tmp_path), split="part")
    assert data.predefined_split is not None
    assert data.predefined_split.tolist() == sensor_frame()["part"].tolist()
    splits = split(data, seed=0)
    assert sorted(splits.indices["test"].tolist()) == list(range(4, 120, 5))


def test_tsv_and_jsonl_read_like_csv(tmp_path: Path) -> None:
    frame = sensor_frame()
    (tmp_path / "own").mkdir()
    frame.to_csv(tmp_path / "own" / "t.tsv", sep="\t", index=False)
    lines = [json.dumps(record) for record in frame.to_dict(orient="records")]
    (tmp_path / "own" / "t.jsonl").write_text("\n".join(lines) + "\n")
    reference = load(tmp_path, write_csv(tmp_path))
    for name in ("own/t.tsv", "own/t.jsonl"):
        data = load(tmp_path, name)
        pd.testing.assert_frame_equal(data.features, reference.features)
        np.testing.assert_array_equal(data.target, reference.target)


def test_parquet_reads_like_csv(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    (tmp_path / "own").mkdir()
    sensor_frame().to_parquet(tmp_path / "own" / "t.parquet", index=False)
    reference = load(tmp_path, write_csv(tmp_path))
    data = load(tmp_path, "own/t.parquet")
    pd.testing.assert_frame_equal(data.features, reference.features)
    np.testing.assert_array_equal(data.target, reference.target)


def test_parquet_without_pyarrow_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_text(tmp_path, "not really parquet", "own/t.parquet")
    monkeypatch.setattr(table_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"needs pyarrow.*emma-plugins\[table\]"):
        load(tmp_path, "own/t.parquet")


def test_numeric_labels_sort_as_numbers_and_multiclass_is_inferred(tmp_path: Path) -> None:
    text = "x,y,label\n1,2,10\n3,4,2\n5,6,9\n7,8,2\n"
    data = load(tmp_path, write_text(tmp_path, text), label="label", modes={"x": ["x"], "y": [1]})
    assert data.task == "multiclass" and data.class_names == ("2", "9", "10")
    assert data.target.tolist() == [2, 0, 1, 0]


def test_task_can_be_given(tmp_path: Path) -> None:
    two = "x,y,label\n1,2,a\n3,4,b\n"
    data = load(tmp_path, write_text(tmp_path, two), label="label", modes={"x": "x", "y": "y"})
    assert data.task == "binary"
    forced = load(
        tmp_path, "own/t.csv", label="label", modes={"x": "x", "y": "y"}, task="multiclass"
    )
    assert forced.task == "multiclass" and forced.n_classes == 2
    write_text(tmp_path, two + "5,6,c\n")
    with pytest.raises(DataError, match=r"task binary needs two classes, found 3 \(a, b, c\)"):
        load(tmp_path, "own/t.csv", label="label", modes={"x": "x", "y": "y"}, task="binary")


def test_a_byte_order_mark_loses_no_row(tmp_path: Path) -> None:
    text = "\ufeffx,y,label\n1,2,a\n3,4,b\n"
    data = load(tmp_path, write_text(tmp_path, text), label="label", modes={"x": ["x"], "y": [1]})
    assert len(data) == 2 and data.modes["x"] == ["x"]
    assert data.features["x"].tolist() == [1.0, 3.0]


def test_impute_mean_fills_missing_cells_from_training_rows(tmp_path: Path) -> None:
    text = "x,y,label,part\n1,2,a,train\n3,,b,train\n5,4,a,test\n7,100,b,test\n9,NA,a,train\n"
    name = write_text(tmp_path, text)
    modes = {"x": ["x"], "y": ["y"]}
    with pytest.raises(DataError, match=r"row 2 \(line 3\), column 'y': the value is missing"):
        load(tmp_path, name, label="label", modes=modes)
    data = load(tmp_path, name, label="label", modes=modes, split="part", on_missing="impute_mean")
    assert data.features["y"].tolist() == [2.0, 2.0, 4.0, 100.0, 2.0]


# -- the spec path, library only ---------------------------------------------------------------
SPEC = """\
spec_version: 1
modes:
  - {name: a, width: 3, estimator: {kind: dae, hidden: 4}}
  - {name: b, width: 2, estimator: {kind: dae, hidden: 4}}
  - {name: c, width: 4, estimator: {kind: dae, hidden: 4}}
network: {kind: mlp, hidden: [8]}
out_features: 1
data:
  dataset:
    kind: table
    path: own/t.csv
    label: diagnosis
    split: part
    modes:
      a: sensor_a_*
      b: [sensor_b_1, sensor_b_2]
      c: [6, 7, 8, 9]
"""


def test_a_spec_file_names_the_table_and_emma_validate_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_csv(tmp_path)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(SPEC)
    assert main(["validate", str(spec_file)]) == 0
    assert "3 modes: a[3] dae, b[2] dae, c[4] dae" in capsys.readouterr().out
    spec = load_spec(spec_file)
    assert spec.data is not None
    data = load_dataset(spec.data.dataset.kind, spec.data.dataset.params(), data_dir=str(tmp_path))
    modes, y = data.to_tensors(spec.mode_names)
    assert [tuple(m.shape[1:]) for m in modes] == list(spec.mode_shapes)
    assert y.tolist() == data.target.tolist()
    train, val, test = split(data, seed=0)
    assert (len(train), len(val), len(test)) == (72, 24, 24)


def test_a_spec_path_outside_the_data_directory_is_refused(tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(SPEC.replace("own/t.csv", "../t.csv"))
    with pytest.raises(SpecError, match=r"data\.dataset\.path.*leaves the data directory"):
        load_spec(spec_file)
    with pytest.raises(DataError, match="leaves the data directory"):
        load(tmp_path, "../t.csv")
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path, "own/absent.csv")


# -- what is refused -----------------------------------------------------------------------------
def test_a_column_the_header_lacks_is_named_with_close_matches(tmp_path: Path) -> None:
    name = write_csv(tmp_path)
    modes = {**MODES, "b": ["sensor_b_1", "sensor_b2"]}
    with pytest.raises(DataError) as caught:
        load(tmp_path, name, modes=modes)
    message = str(caught.value)
    assert "own/t.csv: the header has no column 'sensor_b2' (named by mode 'b')" in message
    assert "Did you mean 'sensor_b_2'" in message
    with pytest.raises(DataError, match=r"no column 'diagnostic' \(the label column\)"):
        load(tmp_path, name, label="diagnostic")
    with pytest.raises(DataError, match="pattern 'sensor_d_\\*' matches no column"):
        load(tmp_path, name, modes={**MODES, "a": "sensor_d_*"})
    with pytest.raises(DataError, match="column index 12, but the header has 12 columns"):
        load(tmp_path, name, modes={**MODES, "c": [12]})


def test_a_column_used_twice_is_refused(tmp_path: Path) -> None:
    name = write_csv(tmp_path)
    with pytest.raises(DataError, match="'sensor_a_1' is selected by modes 'a' and 'b'"):
        load(tmp_path, name, modes={"a": "sensor_a_*", "b": ["sensor_a_1"]})
    with pytest.raises(DataError, match="mode 'b' selects column 'sensor_b_1' twice"):
        load(tmp_path, name, modes={"a": "sensor_a_*", "b": ["sensor_b_1", 4]})


def test_the_label_or_split_used_as_a_feature_is_refused(tmp_path: Path) -> None:
    name = write_csv(tmp_path)
    with pytest.raises(DataError, match="selects 'diagnosis', the label column, as a feature"):
        load(tmp_path, name, modes={"a": "sensor_a_*", "b": [10]})
    with pytest.raises(DataError, match="selects 'part', the split column, as a feature"):
        load(tmp_path, name, modes={"a": "sensor_a_*", "b": "p*"}, split="part")


@pytest.mark.parametrize(
    ("cell", "match"),
    [
        ("abc", r"'abc' is not a number"),
        ("inf", r"inf is not a finite number"),
        ("-1e999", r"-inf is not a finite number"),
        ("1e300", r"1e\+300 is beyond float32's range"),
    ],
)
def test_a_bad_cell_is_named_by_file_row_and_column(tmp_path: Path, cell: str, match: str) -> None:
    text = f"x,y,label\n1,2,a\n3,{cell},b\n"
    name = write_text(tmp_path, text)
    with pytest.raises(DataError, match=rf"own/t\.csv, row 2 \(line 3\), column 'y': {match}"):
        load(tmp_path, name, label="label", modes={"x": ["x"], "y": ["y"]})


def test_a_single_class_is_refused(tmp_path: Path) -> None:
    name = write_text(tmp_path, "x,y,label\n1,2,a\n3,4,a\n")
    with pytest.raises(DataError, match="every one of the 2 rows has the label 'a'"):
        load(tmp_path, name, label="label", modes={"x": ["x"], "y": ["y"]})


def test_malformed_files_are_refused(tmp_path: Path) -> None:
    modes = {"x": ["x"], "y": ["y"]}
    cases = {
        "x,y,label\n1,2,a\n3,4\n": r"line 3 \(row 2\): found 2 fields, the header has 3",
        "x,x,label\n1,2,a\n": "columns 0 and 1 are both named 'x'",
        "x,y,label\n1,2,\n3,4,b\n": r"row 1 \(line 2\): the label is missing",
        "x,y,label\n": "holds a header but no data rows",
    }
    for text, match in cases.items():
        with pytest.raises(DataError, match=match):
            load(tmp_path, write_text(tmp_path, text), label="label", modes=modes)
    text = "x,y,label,part\n1,2,a,train\n3,4,b,holdout\n"
    with pytest.raises(DataError, match=r"row 2 \(line 3\): 'holdout' is not a split"):
        load(tmp_path, write_text(tmp_path, text), label="label", modes=modes, split="part")
    with pytest.raises(DataError, match=r"unknown table format '\.xlsx'"):
        load(tmp_path, write_text(tmp_path, "x", "own/t.xlsx"), label="label", modes=modes)


# -- column selection -------------------------------------------------------------------------
GROUPS = ("acc", "gyro", "mag", "temp")


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[str], dict[str, Any], dict[str, list[str]]]:
    """A shuffled header of sensor groups and filler columns, a selection, its expected result."""
    groups = draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=4, unique=True))
    sizes = {g: draw(st.integers(1, 9)) for g in groups}
    columns = [f"{g}_{i}" for g in groups for i in range(1, sizes[g] + 1)]
    fillers = [f"other{k}" for k in range(draw(st.integers(0, 3)))]
    header = draw(st.permutations([*columns, *fillers, "label"]))
    modes: dict[str, Any] = {}
    expected: dict[str, list[str]] = {}
    for g in groups:
        names = [c for c in header if c.startswith(f"{g}_")]  # header order
        how = draw(st.sampled_from(["star", "question", "range", "names", "indices"]))
        if how in ("star", "question", "range"):
            modes[g] = {"star": f"{g}_*", "question": f"{g}_?", "range": f"{g}_[0-9]"}[how]
            expected[g] = names
        else:
            chosen = draw(st.permutations(names))
            modes[g] = chosen if how == "names" else [header.index(c) for c in chosen]
            expected[g] = list(chosen)
    return header, modes, expected


@settings(max_examples=60, deadline=None)
@given(layouts())
def test_patterns_and_lists_select_exactly_the_expected_columns(
    layout: tuple[list[str], dict[str, Any], dict[str, list[str]]],
) -> None:
    header, modes, expected = layout
    assert select_columns(header, modes, label="label") == expected


def test_select_columns_reads_the_header_only() -> None:
    header = ["a_1", "a_2", "b_1", "y"]
    assert select_columns(header, {"a": "a_*", "b": "b_1"}, label="y") == {
        "a": ["a_1", "a_2"],
        "b": ["b_1"],
    }


def test_the_shipped_sample_table_loads() -> None:
    data = load_dataset("table", table_module.SAMPLE_PARAMS)
    assert [len(c) for c in data.modes.values()] == [2, 3, 1]
    assert data.class_names == ("fault", "ok") and len(data) == 16
