"""``table``: the practitioner's own multi-modal table, read from one file without a plugin.

A spec names the file (relative to the data directory), the label column, and each mode's
columns: a list of header names or 0-based indices, or one glob pattern such as
``"sensor_a_*"`` (matched against the header, in file order). The file's kind follows its
suffix: ``.csv``, ``.tsv``, ``.jsonl``, and with the ``table`` extra (pyarrow) ``.parquet``
and ``.feather``.

The file is read as strictly as the built-in data sets (`emma_plugins.sources.tables`):
every `DataError` names the file, the row (and the line of a text file) and the column. A
column the spec names but the header lacks (with close matches), a column used twice, the
label or the split column used as a feature, a cell that is not a number, an infinity or a
value beyond float32's range, a missing cell (unless ``on_missing: impute_mean``), a missing
label and a label with a single class are all refused. Labels may be names: they become
classes ``0..K-1`` in sorted order (numerically when every label is a number), and the
names are kept as `MultiModalData.class_names`.
"""

from __future__ import annotations

import csv
import difflib
import importlib.util
import json
import re
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from emma_plugins.core.errors import DataError
from emma_plugins.sources.container import SPLIT_NAMES, MultiModalData
from emma_plugins.sources.paths import data_file, resolve_data_dir
from emma_plugins.sources.tables import FLOAT32_MAX, first_bad_cell, read_text

#: Suffix -> format; text formats are read here, binary ones through pandas and pyarrow.
FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".parquet": "parquet",
    ".feather": "feather",
}
#: Cells (after stripping, lower case) that mean "no value".
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
#: The characters that make a mode's string a glob pattern rather than a column name.
_GLOB = re.compile(r"[*?\[]")

#: One mode's columns: a list of header names or 0-based indices, or one glob pattern.
ColumnSelection = list[Annotated[int, Field(ge=0)] | str] | str


class TableParams(BaseModel):
    """The parameters of the ``table`` data set kind."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="The table, relative to the data directory (EMMA_DATA_DIR): .csv, .tsv, "
        ".jsonl, or with the 'table' extra .parquet and .feather."
    )
    label: str = Field(min_length=1, description="Header name of the label column.")
    modes: dict[str, ColumnSelection] = Field(
        min_length=1,
        description="Mode name -> its columns: a list of header names or 0-based indices, "
        "or one glob pattern such as 'sensor_a_*' (matched in file order).",
    )
    task: Literal["binary", "multiclass"] | None = Field(
        None,
        description="binary or multiclass; default: binary for two distinct labels, "
        "multiclass for more.",
    )
    split: str | None = Field(
        None,
        description="Header name of a column holding train / val / test per row: the data "
        "set's predefined split; default: a random stratified split drawn downstream.",
    )
    on_missing: Literal["error", "impute_mean", "missing"] = Field(
        "error",
        description="A missing feature cell (empty, NA, NaN, null): refuse it, fill it "
        "with its column's mean (over the training rows when there is a split column), or "
        "keep it missing for the modes' own on_missing (emma fit masks the mode in that row).",
    )
    data_dir: str | None = Field(
        None, description="The data directory; default: EMMA_DATA_DIR, else the user cache."
    )


def load_table(
    path: str,
    label: str,
    modes: Mapping[str, ColumnSelection],
    task: Literal["binary", "multiclass"] | None = None,
    split: str | None = None,
    on_missing: Literal["error", "impute_mean", "missing"] = "error",
    data_dir: str | None = None,
) -> MultiModalData:
    """Your own table file: its columns grouped into modes, and a label column.

    Reads ``<data dir>/<path>`` (see `TableParams` and docs/data.md, "Your own table").
    """
    file = data_file(path, resolve_data_dir(data_dir))
    raw = read_table(file)
    header = [str(c) for c in raw.columns]
    chosen = select_columns(header, modes, label=label, split=split, source=str(file))
    rows = _RowNames(raw.index, text=FORMATS[file.suffix.lower()] in ("csv", "tsv", "jsonl"))
    target, class_names = _encode_labels(raw[label], rows, f"{file}, column {label!r}")
    n_classes = len(class_names)
    if n_classes < 2:
        raise DataError(
            f"{file}, column {label!r}: every one of the {len(target)} rows has the label "
            f"{class_names[0]!r}; a classifier needs at least two classes."
        )
    if task == "binary" and n_classes != 2:
        raise DataError(
            f"{file}, column {label!r}: task binary needs two classes, found {n_classes} "
            f"({_listing(class_names)}); set task: multiclass or drop the other classes."
        )
    labels = None if split is None else _split_labels(raw[split], rows, f"{file}, column {split!r}")
    used = [column for names in chosen.values() for column in names]
    train_rows = None if labels is None else labels == "train"
    features = _features(raw[used], rows, str(file), on_missing, train_rows)
    return MultiModalData(
        name=file.stem,
        features=features,
        target=target,
        modes=chosen,
        task=task or ("binary" if n_classes == 2 else "multiclass"),
        n_classes=n_classes,
        description=f"table {path} (label {label!r})",
        predefined_split=labels,
        class_names=class_names,
    )


#: The kit's fast parameters (`emma_plugins.testing`): the small sample table shipped with
#: the package, ``emma_plugins/sources/samples/sensors.csv`` (16 rows, three modes).
SAMPLE_PARAMS = {
    "path": "samples/sensors.csv",
    "label": "state",
    "modes": {"acc": "acc_*", "gyro": "gyro_*", "temp": ["temp"]},
    "data_dir": str(Path(__file__).parent),
}
setattr(load_table, "conformance_params", SAMPLE_PARAMS)  # noqa: B010 - read by the kit


def read_table(file: Path) -> pd.DataFrame:
    """Every cell of ``file`` as read (text formats: strings), with header names as columns.

    The index holds each row's line number for text formats (``"line"``) and its 1-based
    row number otherwise (``"row"``), for messages.
    """
    kind = FORMATS.get(file.suffix.lower())
    if kind is None:
        raise DataError(
            f"{file}: unknown table format {file.suffix!r}; use one of {', '.join(FORMATS)}."
        )
    if kind in ("csv", "tsv"):
        frame = _read_delimited(file, "," if kind == "csv" else "\t")
    elif kind == "jsonl":
        frame = _read_jsonl(file)
    else:
        frame = _read_binary(file, kind)
    _check_header(file, [str(c) for c in frame.columns])
    if frame.empty:
        raise DataError(f"{file} holds a header but no data rows.")
    return frame


def select_columns(
    header: Sequence[str],
    modes: Mapping[str, ColumnSelection],
    *,
    label: str,
    split: str | None = None,
    source: str = "the table",
) -> dict[str, list[str]]:
    """Mode name -> its header names, in the order given (a pattern: in header order).

    :raises DataError: for a label, split column, name or index the header lacks (with
        close matches), a pattern that matches nothing, a column listed twice or in two
        modes, and the label or split column selected as a feature.
    """
    header = list(header)
    reserved = {label: "the label column"}
    _require(header, label, "the label column", source)
    if split is not None:
        _require(header, split, "the split column", source)
        reserved[split] = "the split column"
    owner: dict[str, str] = {}
    chosen: dict[str, list[str]] = {}
    for mode, selection in modes.items():
        names = _resolve(header, mode, selection, source)
        for name in names:
            if name in reserved:
                raise DataError(
                    f"{source}: mode {mode!r} selects {name!r}, {reserved[name]}, as a feature; "
                    "a feature must not reveal the label or the split. Remove it from the mode."
                )
            if owner.get(name) == mode:
                raise DataError(
                    f"{source}: mode {mode!r} selects column {name!r} twice; list each column once."
                )
            if name in owner:
                raise DataError(
                    f"{source}: column {name!r} is selected by modes {owner[name]!r} and "
                    f"{mode!r}; a column belongs to one mode only."
                )
            owner[name] = mode
        chosen[mode] = names
    return chosen


def _resolve(header: list[str], mode: str, selection: ColumnSelection, source: str) -> list[str]:
    if isinstance(selection, str):
        if not _GLOB.search(selection):
            _require(header, selection, f"named by mode {mode!r}", source)
            return [selection]
        matched = [name for name in header if fnmatchcase(name, selection)]
        if not matched:
            raise DataError(
                f"{source}: mode {mode!r}: pattern {selection!r} matches no column of the "
                f"header ({_listing(header)})."
            )
        return matched
    names = []
    for item in selection:
        if isinstance(item, int):
            if item >= len(header):
                raise DataError(
                    f"{source}: mode {mode!r} names column index {item}, but the header has "
                    f"{len(header)} columns (indices 0..{len(header) - 1})."
                )
            names.append(header[item])
        else:
            _require(header, item, f"named by mode {mode!r}", source)
            names.append(item)
    return names


def _require(header: list[str], name: str, what: str, source: str) -> None:
    if name in header:
        return
    close = difflib.get_close_matches(name, header, n=3, cutoff=0.6)
    hint = f" Did you mean {_listing(close, quote=True)}?" if close else ""
    raise DataError(
        f"{source}: the header has no column {name!r} ({what}).{hint} The header: "
        f"{_listing(header)}."
    )


def _check_header(file: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for index, name in enumerate(header):
        if not name.strip():
            raise DataError(
                f"{file}, header: column {index} has no name; name every column of the header."
            )
        if name in seen:
            raise DataError(
                f"{file}, header: columns {seen[name]} and {index} are both named {name!r}; "
                "header names must be unique."
            )
        seen[name] = index


def _read_delimited(file: Path, sep: str) -> pd.DataFrame:
    text = read_text(file)  # a UTF-8 BOM removed, line endings made LF
    reader = csv.reader(text.split("\n"), delimiter=sep)
    header: list[str] | None = None
    lines: list[int] = []
    rows: list[list[str]] = []
    for fields in reader:
        if not any(field.strip() for field in fields):
            continue  # a blank line
        if header is None:
            header = [field.strip() for field in fields]
            continue
        if len(fields) != len(header):
            raise DataError(
                f"{file}, line {reader.line_num} (row {len(rows) + 1}): found {len(fields)} "
                f"fields, the header has {len(header)}. An extra or missing field would shift "
                "the columns after it; fix the file."
            )
        lines.append(reader.line_num)
        rows.append(fields)
    if header is None:
        raise DataError(f"{file} is empty; it needs a header row and data rows.")
    _check_header(file, header)
    return pd.DataFrame(rows, columns=header, index=pd.Index(lines, name="line"), dtype=object)


def _read_jsonl(file: Path) -> pd.DataFrame:
    lines: list[int] = []
    records: list[dict[str, Any]] = []
    keys: list[str] | None = None
    for number, line in enumerate(read_text(file).split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}, line {number}: not JSON ({exc.msg}).") from None
        if not isinstance(record, dict):
            raise DataError(f"{file}, line {number}: expected a JSON object per line.")
        if keys is None:
            keys = [str(k) for k in record]
        elif list(record) != keys and set(record) != set(keys):
            missing = [k for k in keys if k not in record]
            extra = [k for k in record if k not in keys]
            raise DataError(
                f"{file}, line {number} (row {len(records) + 1}): its keys differ from the "
                f"first record's: missing {missing}, extra {extra}."
            )
        lines.append(number)
        records.append({k: _json_cell(v) for k, v in record.items()})
    if keys is None:
        raise DataError(f"{file} is empty; it needs one JSON object per line.")
    frame = pd.DataFrame.from_records(records, columns=keys)
    frame.index = pd.Index(lines, name="line")
    return frame.astype(object)


def _json_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value if isinstance(value, str) else json.dumps(value)


def _read_binary(file: Path, kind: str) -> pd.DataFrame:
    if importlib.util.find_spec("pyarrow") is None:
        raise DataError(
            f"{file}: reading .{kind} files needs pyarrow, which is not installed; install the "
            "'table' extra: pip install 'emma-plugins[table]' (or convert the file to CSV)."
        )
    try:
        frame = pd.read_parquet(file) if kind == "parquet" else pd.read_feather(file)
    except (OSError, ValueError) as exc:
        raise DataError(f"{file}: not a readable {kind} file ({exc}).") from None
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    frame.index = pd.Index(np.arange(1, len(frame) + 1), name="row")
    return frame


class _RowNames:
    """How a row is named in messages: ``row 3 (line 4)`` in a text file, else ``row 3``."""

    def __init__(self, index: pd.Index, *, text: bool) -> None:
        self.index, self.text = index, text

    def __call__(self, position: int) -> str:
        if self.text:
            return f"row {position + 1} (line {self.index[position]})"
        return f"row {position + 1}"


def _cells(column: pd.Series) -> pd.Series:
    """A column as stripped strings (missing values as empty strings)."""
    return column.map(_cell_text).str.strip()


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _features(
    frame: pd.DataFrame,
    rows: _RowNames,
    source: str,
    on_missing: str,
    train_rows: NDArray[np.bool_] | None,
) -> pd.DataFrame:
    columns = [str(c) for c in frame.columns]
    values = np.empty(frame.shape, dtype=np.float64)
    missing = np.zeros(frame.shape, dtype=bool)
    for j, name in enumerate(columns):
        column = frame.iloc[:, j]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values[:, j] = column.to_numpy(dtype=np.float64)
            missing[:, j] = np.isnan(values[:, j])
            continue
        text = _cells(column)
        absent = text.str.lower().isin(MISSING_TOKENS).to_numpy()
        parsed = pd.to_numeric(text.mask(absent, None), errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(np.isnan(parsed) & ~absent)
        if bad.size:
            row = int(bad[0])
            raise DataError(
                f"{source}, {rows(row)}, column {name!r}: {text.iloc[row]!r} is not a number; "
                "every feature cell must be a number."
            )
        values[:, j], missing[:, j] = parsed, absent
    cell = first_bad_cell(np.where(missing, 0.0, values), FLOAT32_MAX)
    if cell is not None:
        row, j = cell
        value = values[row, j]
        why = (
            "is not a finite number; infinities and numbers beyond float64's range are refused"
            if not np.isfinite(value)
            else f"is beyond float32's range (±{FLOAT32_MAX:.3g}), the precision the models "
            "compute in; it is most likely a corrupt value"
        )
        raise DataError(f"{source}, {rows(row)}, column {columns[j]!r}: {value:g} {why}.")
    if missing.any():
        values = _impute(values, missing, columns, rows, source, on_missing, train_rows)
    return pd.DataFrame(values, columns=columns)


def _impute(
    values: NDArray[np.float64],
    missing: NDArray[np.bool_],
    columns: list[str],
    rows: _RowNames,
    source: str,
    on_missing: str,
    train_rows: NDArray[np.bool_] | None,
) -> NDArray[np.float64]:
    if on_missing == "missing":
        return values  # NaN where missing; emma fit applies each mode's on_missing
    row, j = (int(i) for i in np.argwhere(missing)[0])
    if on_missing == "error":
        raise DataError(
            f"{source}, {rows(row)}, column {columns[j]!r}: the value is missing; fill it, drop "
            "the row, or set on_missing: impute_mean to fill missing cells with the column's "
            "mean, or on_missing: missing to mask the mode in that row."
        )
    reference = np.ones(len(values), dtype=bool) if train_rows is None else train_rows
    filled = values.copy()
    for index in np.flatnonzero(missing.any(axis=0)):
        known = reference & ~missing[:, index]
        if not known.any():
            which = "training rows" if train_rows is not None else "rows"
            raise DataError(
                f"{source}, column {columns[index]!r}: the value is missing in every one of "
                f"its {which}, so no mean can fill it; drop the column from the modes."
            )
        filled[missing[:, index], index] = values[known, index].mean()
    return filled


def encode_labels(values: Any, where: str = "y") -> tuple[NDArray[np.int64], tuple[str, ...]]:
    """Labels of any kind (numbers or names) as classes ``0..K-1`` and the class names.

    Names are sorted (numerically when every label is a number, so 2 comes before 10); a
    missing label is a `DataError` naming ``where`` and the row.
    """
    column = pd.Series(np.asarray(values, dtype=object))
    return _encode_labels(column, _RowNames(column.index, text=False), where)


def _encode_labels(
    column: pd.Series, rows: _RowNames, where: str
) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    text = _cells(column)
    absent = np.flatnonzero(text.str.lower().isin(MISSING_TOKENS).to_numpy())
    if absent.size:
        raise DataError(
            f"{where}, {rows(int(absent[0]))}: the label is missing; every row needs a label."
        )
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
    if np.all(np.isfinite(numbers)):  # numeric labels: sorted as numbers, 2 before 10
        whole = np.all(numbers == np.round(numbers))
        names = np.array([f"{v:.0f}" if whole else f"{v:g}" for v in numbers], dtype=object)
        order = sorted(set(names.tolist()), key=float)
    else:
        names = text.to_numpy(dtype=object)
        order = sorted(set(names.tolist()))
    index = {name: k for k, name in enumerate(order)}
    target = np.array([index[name] for name in names], dtype=np.int64)
    return target, tuple(order)


def _split_labels(column: pd.Series, rows: _RowNames, where: str) -> NDArray[np.str_]:
    text = _cells(column).str.lower()
    bad = np.flatnonzero(~text.isin(SPLIT_NAMES).to_numpy())
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"{where}, {rows(row)}: {column.iloc[row]!r} is not a split; every row must be "
            f"one of {', '.join(SPLIT_NAMES)}."
        )
    return text.to_numpy(dtype=str)


def _listing(names: Sequence[str], *, quote: bool = False, limit: int = 12) -> str:
    shown = [repr(n) if quote else n for n in names[:limit]]
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return (" or " if quote else ", ").join(shown) + more
