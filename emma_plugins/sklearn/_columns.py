"""How `EmmaClassifier` maps its input (a DataFrame, an array, a dict of arrays per mode) to
modes and columns."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.utils.validation import check_array


def _is_mode_dict(X: Any) -> bool:
    """Whether ``X`` is a dict of arrays per mode (a sparse DOK matrix is a dict, too)."""
    return isinstance(X, Mapping) and not sparse.issparse(X)


def _differs(value: Any, default: Any) -> bool:
    if isinstance(value, Sequence) and isinstance(default, Sequence):
        return list(value) != list(default)
    return bool(value != default)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot save the parameter value {value!r} as JSON.")


def _header(estimator: Any, blocks: dict[str, tuple[int, ...]] | None) -> list[str]:
    """The column names of the fit's table: the DataFrame's, ``<mode>_<i>`` for a dict of
    arrays, else ``x0, x1, ...``."""
    if hasattr(estimator, "feature_names_in_"):
        return [str(c) for c in estimator.feature_names_in_]
    if blocks is not None:
        return [f"{m}_{i}" for m, shape in blocks.items() for i in range(int(np.prod(shape)))]
    return [f"x{i}" for i in range(int(estimator.n_features_in_))]


def _block_layout(
    X: Mapping[str, Any],
    *,
    fitting: bool,
    expected: dict[str, tuple[int, ...]] | None = None,
) -> dict[str, tuple[int, ...]]:
    """Mode name -> the shape of one sample, for a dict of arrays per mode."""
    if not X:
        raise ValueError("X is an empty dict; give one array [N, ...] per mode.")
    layout = {}
    for name, array in X.items():
        shape = np.shape(array)
        if len(shape) < 1:
            raise ValueError(f"mode {name!r}: expected an array [N, ...], got a scalar.")
        layout[str(name)] = tuple(int(s) for s in shape[1:]) or (1,)
    if expected is not None and layout != expected:
        raise ValueError(
            f"X has the modes {_shapes(layout)} but the model was fitted on {_shapes(expected)}."
        )
    if fitting and len(layout) < 2:
        raise ValueError(
            f"X has {len(layout)} mode(s); EMMA weighs modes against each other and needs "
            "at least 2."
        )
    return layout


def _shapes(layout: dict[str, tuple[int, ...]]) -> str:
    return ", ".join(f"{m} {list(s)}" for m, s in layout.items())


def _stack_blocks(
    X: Mapping[str, Any], blocks: dict[str, tuple[int, ...]], finite: bool
) -> NDArray[np.float64]:
    """The modes' arrays flattened and side by side, in ``blocks`` order."""
    parts = []
    for name in blocks:
        array = check_array(
            X[name],
            dtype=np.float64,
            ensure_2d=False,
            allow_nd=True,
            ensure_all_finite=finite,
            input_name=f"X[{name!r}]",
        )
        parts.append(array.reshape(len(array), -1))
    rows = {len(p) for p in parts}
    if len(rows) > 1:
        raise ValueError(f"the modes of X have different numbers of rows ({sorted(rows)}).")
    return np.concatenate(parts, axis=1)


def _block_columns(blocks: dict[str, tuple[int, ...]]) -> dict[str, list[int | str]]:
    columns: dict[str, list[int | str]] = {}
    start = 0
    for name, shape in blocks.items():
        size = int(np.prod(shape))
        columns[name] = list(range(start, start + size))
        start += size
    return columns


def _mode_columns(
    modes: Any, n_features: int, header: list[str], named: bool
) -> dict[str, list[int | str]]:
    """Mode name -> its columns, from the ``modes`` parameter."""
    if modes is None or (isinstance(modes, numbers.Integral) and not isinstance(modes, bool)):
        k = 2 if modes is None else int(modes)
        if k < 2:
            raise ValueError(f"modes={k}: EMMA needs at least 2 modes.")
        if n_features < k:
            raise ValueError(
                f"X has {n_features} feature(s) but modes={k} needs at least {k} columns "
                "(one per mode)."
            )
        return {
            f"mode_{i}": [int(c) for c in block]
            for i, block in enumerate(np.array_split(np.arange(n_features), k))
        }
    if not isinstance(modes, Mapping):
        raise TypeError(
            f"modes must be a mapping of mode name to columns, an int or None; got "
            f"{type(modes).__name__}."
        )
    if len(modes) < 2:
        raise ValueError(
            f"modes names {len(modes)} mode(s); EMMA weighs modes against each other and "
            "needs at least 2."
        )
    chosen: dict[str, list[int | str]] = {}
    owner: dict[int, str] = {}
    for name, columns in modes.items():
        checked = _checked_columns(str(name), columns, n_features, header, named)
        for column in checked:
            position = header.index(column) if isinstance(column, str) else column
            if position in owner:
                raise ValueError(
                    f"column {header[position]!r} is in modes {owner[position]!r} and "
                    f"{name!r}; give each column to one mode."
                )
            owner[position] = str(name)
        chosen[str(name)] = checked
    return chosen


def _checked_columns(
    mode: str, columns: Any, n_features: int, header: list[str], named: bool
) -> list[int | str]:
    """A mode's columns as positions (ints) or names of a DataFrame's columns."""
    if isinstance(columns, str) or not isinstance(columns, Sequence | np.ndarray):
        raise TypeError(
            f"mode {mode!r}: columns must be a list of column names or positions, got {columns!r}."
        )
    if len(columns) == 0:
        raise ValueError(f"mode {mode!r} has no columns.")
    checked: list[int | str] = []
    for column in columns:
        if isinstance(column, numbers.Integral) and not isinstance(column, bool):
            if not 0 <= int(column) < n_features:
                raise ValueError(
                    f"mode {mode!r}: column position {column} is out of range; X has "
                    f"{n_features} columns."
                )
            checked.append(int(column))
        elif isinstance(column, str):
            if not named:
                raise ValueError(
                    f"mode {mode!r} names column {column!r}, but X has no column names: "
                    "pass a DataFrame with string column names, or use 0-based positions."
                )
            if column not in header:
                raise ValueError(f"mode {mode!r}: X has no column {column!r}.")
            checked.append(column)
        else:
            raise TypeError(
                f"mode {mode!r}: a column is a name or a 0-based position, got {column!r}."
            )
    return checked
