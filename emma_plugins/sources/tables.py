"""Numeric text tables read strictly, and checks that point at the offending cell.

A data file that does not have the shape a loader expects is refused, never guessed around:
an extra or a missing column shifts every column after it (the class becomes a feature and
the scores look excellent), and a header recognised by guesswork can swallow a data row.
So every row must have exactly the expected number of fields, a header is recognised only
when every field is a name (and must then match), a UTF-8 byte order mark is
removed before anything else, and every value must be a finite number. Each refusal is a
`DataError` that names the file, the line and the column.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emma_plugins.core.errors import DataError

Header = Literal["none", "optional", "required"]
#: The largest magnitude a feature may have: the models compute in float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Byte order marks of encodings other than UTF-8, which are refused with a hint.
_OTHER_BOMS = {
    b"\xff\xfe": "UTF-16 or UTF-32 (little-endian)",
    b"\xfe\xff": "UTF-16 (big-endian)",
    b"\x00\x00\xfe\xff": "UTF-32 (big-endian)",
}


def read_text(path: Path) -> str:
    """``path`` decoded as UTF-8 (a leading byte order mark removed), line endings made LF.

    CR-only and CRLF line endings are accepted. Text in another encoding is refused.
    """
    raw = path.read_bytes()
    for bom, encoding in _OTHER_BOMS.items():
        if raw.startswith(bom):
            raise DataError(f"{path} is {encoding} text; save it as UTF-8 (or ASCII).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
        raise DataError(
            f"{path}, line {line}: byte {exc.start} ({raw[exc.start : exc.start + 1]!r}) is "
            "not UTF-8; save the file as UTF-8 (or ASCII)."
        ) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_numeric_table(
    path: Path,
    columns: Sequence[str],
    *,
    sep: str | None = ",",
    header: Header = "none",
    expected_header: Sequence[str | None] | None = None,
) -> pd.DataFrame:
    """The table in ``path`` as float64 columns named ``columns``, checked cell by cell.

    The frame's index holds each row's line number in the file (named ``"line"``), for
    messages about rows that a caller checks further.

    :param columns: the names of the columns the file must have, in order; every data row
        must have exactly this many fields.
    :param sep: the field separator, or ``None`` for runs of whitespace.
    :param header: ``"none"`` (every line is data), ``"required"`` (the first line is a
        header) or ``"optional"`` (the first line is a header when every field is a name:
        not a number, with at least one letter; any other line is data, so a damaged data
        row is refused, never skipped as a header).
    :param expected_header: what the header's fields must read, ``None`` for a field whose
        name is not checked (default: only the number of fields is checked).
    :raises DataError: naming the file, the line and the column, for a row with the wrong
        number of fields, a header that does not match, a cell that is not a number, and a
        NaN or infinite value (including a number too large for float64).

    Blank lines are skipped; line numbers in messages count every line of the file.
    """
    columns = list(columns)
    lines = [(n, line) for n, line in enumerate(read_text(path).split("\n"), 1) if line.strip()]
    rows = [(n, _fields(line, sep)) for n, line in lines]
    if rows and header != "none":
        line_no, first = rows[0]
        if header == "required" or _looks_like_header(first):
            _check_header(path, line_no, first, columns, expected_header)
            rows = rows[1:]
    if not rows:
        raise DataError(f"{path} holds no data rows; expected {_describe(columns)}.")
    for line_no, fields in rows:
        if len(fields) != len(columns):
            raise DataError(
                f"{path}, line {line_no}: found {len(fields)} fields, expected "
                f"{_describe(columns)}. An extra or missing column would shift the columns "
                "after it; fix the file."
            )
    values = _to_floats(path, rows, columns)
    index = pd.Index([line_no for line_no, _ in rows], name="line")
    return pd.DataFrame(values, columns=columns, index=index)


def first_bad_cell(
    values: NDArray[np.float64], limit: float = np.inf, *, skip_nan: bool = False
) -> tuple[int, int] | None:
    """``(row, column)`` of the first (row-major) NaN (unless ``skip_nan``: missing values
    the caller handles), infinity or ``|value| > limit``."""
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(values) <= limit) if np.isfinite(limit) else ~np.isfinite(values)
    if skip_nan:
        bad &= ~np.isnan(values)
    if not bad.any():
        return None
    row, column = np.argwhere(bad)[0]
    return int(row), int(column)


def check_finite(
    features: pd.DataFrame,
    where: str,
    rows: Sequence[int] | NDArray[np.int64] | None = None,
    limit: float = FLOAT32_MAX,
    *,
    skip_nan: bool = False,
) -> None:
    """Refuse a NaN (unless ``skip_nan``), an infinity or a magnitude above ``limit``
    (default: float32's range).

    The message names ``where`` (the data set), the first offending row (``rows[i]`` when
    given: the rows' positions in a larger data set) and column.
    """
    values = features.to_numpy(dtype=np.float64)
    cell = first_bad_cell(values, limit, skip_nan=skip_nan)
    if cell is None:
        return
    row, column = cell
    value = values[row, column]
    position = int(rows[row]) if rows is not None else row
    what = f"{where}: row {position}, column {str(features.columns[column])!r} is {value:g}"
    if np.isfinite(value):
        raise DataError(
            f"{what}, beyond float32's range (±{limit:.3g}), the precision the models compute "
            "in; it is most likely a corrupt value. Fix or drop that row."
        )
    raise DataError(f"{what}; every feature must be a finite number. Fix or drop that row.")


def _fields(line: str, sep: str | None) -> list[str]:
    if sep is None:
        return line.split()
    return next(csv.reader([line], delimiter=sep))


def _check_header(
    path: Path,
    line_no: int,
    found: list[str],
    columns: list[str],
    expected: Sequence[str | None] | None,
) -> None:
    where = f"{path}, line {line_no} (the header)"
    if len(found) != len(columns):
        raise DataError(
            f"{where}: found {len(found)} columns, expected {_describe(columns)}. An extra or "
            "missing column would shift the columns after it; fix the file."
        )
    for index, (name, want) in enumerate(zip(found, expected or [], strict=False)):
        if want is not None and name.strip() != want:
            raise DataError(
                f"{where}: column {index + 1} is named {name.strip()!r}, expected {want!r}; "
                "the file's columns are not in the order this loader reads them."
            )


def _to_floats(
    path: Path, rows: list[tuple[int, list[str]]], columns: list[str]
) -> NDArray[np.float64]:
    values = np.empty((len(rows), len(columns)), dtype=np.float64)
    for index, (line_no, fields) in enumerate(rows):
        try:
            values[index] = [float(field) for field in fields]
        except ValueError:
            column = next(j for j, field in enumerate(fields) if not _is_number(field))
            raise DataError(
                f"{path}, line {line_no}, column {column + 1} ({columns[column]}): "
                f"{fields[column]!r} is not a number."
            ) from None
    cell = first_bad_cell(values)
    if cell is not None:
        row, column = cell
        line_no, fields = rows[row]
        raise DataError(
            f"{path}, line {line_no}, column {column + 1} ({columns[column]}): "
            f"{fields[column].strip()!r} is not a finite number; NaN, infinities and numbers "
            "beyond float64's range are refused."
        )
    return values


def _looks_like_header(fields: list[str]) -> bool:
    return all(any(c.isalpha() for c in f) and not _is_number(f) for f in fields)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _describe(columns: list[str]) -> str:
    if len(columns) <= 10:
        return f"{len(columns)} ({', '.join(columns)})"
    return f"{len(columns)} ({', '.join(columns[:3])}, ..., {', '.join(columns[-2:])})"
