"""Strict numeric tables: wrong column counts, headers, byte order marks and bad cells."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emma_plugins.core.errors import DataError
from emma_plugins.sources.tables import (
    FLOAT32_MAX,
    Header,
    check_finite,
    first_bad_cell,
    read_numeric_table,
    read_text,
)

COLUMNS = ["a", "b", "c", "label"]
TMP = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])
BAD_CELLS = st.sampled_from(["abc", "", "nan", "NaN", "inf", "-inf", "1e999", "1.2.3", "0x1A"])


def rows_of(n: int, width: int = 4, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[f"{v:g}" for v in row] for row in rng.normal(size=(n, width)).round(4)]


def write(path: Path, rows: list[list[str]], newline: str = "\n", prefix: bytes = b"") -> Path:
    path.write_bytes(prefix + newline.join(",".join(r) for r in rows).encode() + b"\n")
    return path


def test_reads_values_and_line_numbers(tmp_path: Path) -> None:
    rows = rows_of(5)
    path = tmp_path / "t.csv"
    path.write_text("\n".join(",".join(r) for r in rows[:2]) + "\n\n" + ",".join(rows[2]) + "\n")
    table = read_numeric_table(path, COLUMNS)
    assert list(table.columns) == COLUMNS and table.index.tolist() == [1, 2, 4]  # blank line 3
    assert np.allclose(table.to_numpy(), np.array(rows[:3], dtype=float))


@TMP
@given(
    n=st.integers(1, 12),
    extra=st.integers(1, 3),
    data=st.data(),
)
def test_an_extra_column_anywhere_is_refused(
    tmp_path: Path, n: int, extra: int, data: st.DataObject
) -> None:
    rows = rows_of(n)
    row = data.draw(st.integers(0, n - 1), label="row")
    at = data.draw(st.integers(0, len(COLUMNS)), label="position")
    every_row = data.draw(st.booleans(), label="every row")
    for i in range(n) if every_row else [row]:
        rows[i][at:at] = ["0"] * extra
    path = write(tmp_path / "t.csv", rows)
    first = 0 if every_row else row
    message = f"{path}, line {first + 1}: found {len(COLUMNS) + extra} fields, expected 4 "
    with pytest.raises(DataError, match=re.escape(message + "(a, b, c, label)")):
        read_numeric_table(path, COLUMNS)


@TMP
@given(n=st.integers(1, 12), data=st.data())
def test_a_missing_column_is_refused(tmp_path: Path, n: int, data: st.DataObject) -> None:
    rows = rows_of(n)
    row = data.draw(st.integers(0, n - 1), label="row")
    del rows[row][data.draw(st.integers(0, len(COLUMNS) - 1), label="column")]
    path = write(tmp_path / "t.csv", rows)
    with pytest.raises(DataError, match=rf"line {row + 1}: found 3 fields, expected 4"):
        read_numeric_table(path, COLUMNS, header="optional")


@TMP
@given(
    n=st.integers(1, 10),
    newline=NEWLINES,
    layout=st.sampled_from(
        [("none", False), ("optional", False), ("optional", True), ("required", True)]
    ),
    bom=st.booleans(),
)
def test_a_bom_never_costs_a_row(
    tmp_path: Path, n: int, newline: str, layout: tuple[Header, bool], bom: bool
) -> None:
    mode, header = layout
    rows = rows_of(n)
    lines = [["name a", "name b", "name c", "class"], *rows] if header else rows
    path = write(tmp_path / "t.csv", lines, newline, b"\xef\xbb\xbf" if bom else b"")
    table = read_numeric_table(path, COLUMNS, header=mode)
    assert len(table) == n
    assert np.allclose(table.to_numpy(), np.array(rows, dtype=float))


@TMP
@given(n=st.integers(1, 10), cell=BAD_CELLS, header=st.booleans(), data=st.data())
def test_a_bad_cell_is_named_by_line_and_column(
    tmp_path: Path, n: int, cell: str, header: bool, data: st.DataObject
) -> None:
    rows = rows_of(n)
    row = data.draw(st.integers(0, n - 1), label="row")
    column = data.draw(st.integers(0, len(COLUMNS) - 1), label="column")
    rows[row][column] = cell
    lines = [["w", "x", "y", "z"], *rows] if header else rows
    path = write(tmp_path / "t.csv", lines)
    line = row + 1 + int(header)
    where = f"{path}, line {line}, column {column + 1} ({COLUMNS[column]}): "
    with pytest.raises(DataError, match=re.escape(where)) as info:
        read_numeric_table(path, COLUMNS, header="required" if header else "none")
    assert "finite number" in str(info.value) or "is not a number" in str(info.value)


@pytest.mark.parametrize(
    ("first", "column", "cell"),
    [(["1.5", "x", "2", "0"], 2, "x"), (["?", "?", "?", "?"], 1, "?"), (["", "", "", ""], 1, "")],
)
def test_a_damaged_first_row_is_data_not_a_header(
    tmp_path: Path, first: list[str], column: int, cell: str
) -> None:
    path = write(tmp_path / "t.csv", [first, *rows_of(3)])
    message = rf"line 1, column {column} \({COLUMNS[column - 1]}\): '{re.escape(cell)}' is not a"
    with pytest.raises(DataError, match=message):
        read_numeric_table(path, COLUMNS, header="optional")


def test_header_must_match(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", [["0", "1", "2", "3", "9"], *rows_of(2, width=5)])
    with pytest.raises(DataError, match=r"line 1 \(the header\): found 5 columns, expected 4"):
        read_numeric_table(path, COLUMNS, header="required")
    path = write(tmp_path / "t.csv", [["0", "2", "1", "9"], *rows_of(2)])
    expected = ["0", "1", "2", None]
    with pytest.raises(DataError, match=r"column 2 is named '2', expected '1'"):
        read_numeric_table(path, COLUMNS, header="required", expected_header=expected)
    path = write(tmp_path / "t.csv", [["0", "1", "2", "anything"], *rows_of(2)])
    table = read_numeric_table(path, COLUMNS, header="required", expected_header=expected)
    assert len(table) == 2


def test_empty_and_header_only_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("\n\n")
    with pytest.raises(DataError, match="holds no data rows"):
        read_numeric_table(tmp_path / "e.csv", COLUMNS)
    write(tmp_path / "h.csv", [["a", "b", "c", "d"]])
    with pytest.raises(DataError, match="holds no data rows"):
        read_numeric_table(tmp_path / "h.csv", COLUMNS, header="optional")


def test_whitespace_separated(tmp_path: Path) -> None:
    (tmp_path / "w").write_text("  1  2\t3 4\n5 6 7 8  \n")
    table = read_numeric_table(tmp_path / "w", COLUMNS, sep=None)
    assert table.to_numpy().tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    (tmp_path / "w").write_text("1 2 3 4\n5 6 7 8 9\n")
    with pytest.raises(DataError, match="line 2: found 5 fields, expected 4"):
        read_numeric_table(tmp_path / "w", COLUMNS, sep=None)


def test_read_text_encodings(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf1,2\r3,4")
    assert read_text(path) == "1,2\n3,4"
    path.write_bytes("1,2\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"is UTF-16 .*save it as UTF-8"):
        read_text(path)
    path.write_bytes(b"1,2\n3,\xe94\n")
    with pytest.raises(DataError, match=r"t\.csv, line 2: byte 6 .* is not UTF-8"):
        read_text(path)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 5)),
    bad=st.sampled_from([np.nan, np.inf, -np.inf, 1e39, -1e300]),
    data=st.data(),
)
def test_check_finite_names_the_first_bad_cell(
    shape: tuple[int, int], bad: float, data: st.DataObject
) -> None:
    values = np.zeros(shape)
    row = data.draw(st.integers(0, shape[0] - 1), label="row")
    column = data.draw(st.integers(0, shape[1] - 1), label="column")
    values[row, column] = bad
    frame = pd.DataFrame(values, columns=[f"f{j}" for j in range(shape[1])])
    assert first_bad_cell(values, FLOAT32_MAX) == (row, column)
    offsets = np.arange(shape[0]) + 100
    with pytest.raises(DataError, match=rf"^toy: row {row + 100}, column 'f{column}' is "):
        check_finite(frame, "toy", offsets)
    assert first_bad_cell(values) == (None if np.isfinite(bad) else (row, column))


def test_check_finite_accepts_large_finite_values_with_an_infinite_limit() -> None:
    frame = pd.DataFrame({"x": [1e300, -1e300]})
    check_finite(frame, "toy", limit=np.inf)
    with pytest.raises(DataError, match=r"row 0, column 'x' is 1e\+300, beyond float32's range"):
        check_finite(frame, "toy")
