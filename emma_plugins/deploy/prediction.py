"""Predictions with per-mode failure signals, for frames, arrays and files (``emma predict``).

One output row per input row, in input order:

* ``prediction`` (a class name) and ``proba_<class>`` per class;
* per mode: ``<mode>_potential``, ``<mode>_importance`` (alpha), ``<mode>_attention``
  (beta) and ``<mode>_failed``;
* ``total_energy`` and ``uncertain``.

Files are read and written in chunks, so a table of millions of rows needs memory for one
chunk only; the output appears complete or not at all (written beside its target, then
renamed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from emma_plugins.assembly.model import EmmaModel, as_model_input, check_mode_names
from emma_plugins.atomic import write_atomic
from emma_plugins.core.errors import DataError
from emma_plugins.deploy.inference import RawInputModel, deployment_of
from emma_plugins.sources.table import MISSING_TOKENS

#: Rows per chunk when reading a file.
CHUNK_ROWS = 20_000
#: Input suffixes read in chunks; other formats are read whole.
_STREAMED = {".csv": ",", ".tsv": "\t"}
CPU = torch.device("cpu")


class Predictor:
    """A trained model ready to predict raw rows: `predict_frame`, `predict_modes`."""

    def __init__(self, model: EmmaModel) -> None:
        self.deployment = deployment_of(model)
        self.module = RawInputModel(model).eval()
        self.mode_names = list(self.deployment.modes)
        self.shapes = list(model.mode_shapes)

    # -- inputs ----------------------------------------------------------------------------
    def predict_frame(self, frame: pd.DataFrame, *, where: str = "the input") -> pd.DataFrame:
        """Predictions for a frame holding the training table's columns (by name)."""
        modes = []
        for name, shape in zip(self.mode_names, self.shapes, strict=True):
            columns = self.deployment.modes[name].columns
            absent = [c for c in columns if c not in frame.columns]
            if absent:
                raise DataError(
                    f"{where}: mode {name!r} needs column(s) {absent[:5]}"
                    f"{' and more' if len(absent) > 5 else ''}, which the input lacks."
                )
            values = _numeric(frame[columns], where)
            modes.append(values.reshape(len(frame), *shape))
        return self._predict(modes, where, frame.index)

    def predict_modes(self, modes: Mapping[str, Any]) -> pd.DataFrame:
        """Predictions for raw arrays keyed by mode name (numbers of any real dtype)."""
        check_mode_names(modes, self.mode_names)
        arrays = []
        for name, shape in zip(self.mode_names, self.shapes, strict=True):
            expected = f"[N, {', '.join(map(str, shape))}]"
            what = f"mode {name!r}"
            array = as_model_input(modes[name], what, expected, torch.float64, CPU).numpy()
            if tuple(array.shape[1:]) != shape or array.ndim == 0:
                raise DataError(f"{what} has shape {array.shape}; expected {expected}.")
            arrays.append(array)
        return self._predict(arrays, "the input", pd.RangeIndex(len(arrays[0])))

    # -- the pass --------------------------------------------------------------------------
    def _predict(self, arrays: list[np.ndarray], where: str, index: pd.Index) -> pd.DataFrame:
        self._refuse_invalid(arrays, where, index)
        device = next(self.module.model.parameters()).device
        with np.errstate(over="ignore"):  # 1e300 becomes inf: an invalid reading either way
            tensors = [torch.from_numpy(a.astype(np.float32)).to(device) for a in arrays]
        with torch.no_grad():
            outputs = [t.cpu() for t in self.module(tensors)]
        _, proba, potential, importance, attention, failed, total, uncertain = outputs
        names = self.deployment.class_names
        columns: dict[str, Any] = {
            "prediction": np.asarray(names, dtype=object)[proba.argmax(dim=1).numpy()]
        }
        for k, name in enumerate(names):
            columns[f"proba_{name}"] = proba[:, k].double().numpy()
        absent = importance == 0  # masked modes: exactly 0; their potential is a placeholder
        for i, mode in enumerate(self.mode_names):
            columns[f"{mode}_potential"] = np.where(
                absent[:, i].numpy(), np.nan, potential[:, i].double().numpy()
            )
            columns[f"{mode}_importance"] = importance[:, i].double().numpy()
            columns[f"{mode}_attention"] = attention[:, i].double().numpy()
            columns[f"{mode}_failed"] = failed[:, i].numpy()
        columns["total_energy"] = total.double().numpy()
        columns["uncertain"] = uncertain.numpy()
        return pd.DataFrame(columns)

    def _refuse_invalid(self, arrays: list[np.ndarray], where: str, index: pd.Index) -> None:
        """Modes whose policy is ``error`` refuse a row with a NaN or infinite reading."""
        for name, array in zip(self.mode_names, arrays, strict=True):
            if self.deployment.modes[name].on_missing != "error":
                continue
            bad = ~np.isfinite(array.reshape(len(array), -1))
            if bad.any():
                row, column = np.argwhere(bad)[0]
                raise DataError(
                    f"{where}, row {index[row]}: mode {name!r} (on_missing: error) reads "
                    f"{array.reshape(len(array), -1)[row, column]} in column "
                    f"{self.deployment.modes[name].columns[column]!r}."
                )


def _numeric(frame: pd.DataFrame, where: str) -> np.ndarray:
    """The columns as float64; empty or NA cells become NaN (an invalid reading), any other
    cell that is not a number is a `DataError` naming its row and column."""
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    suspicious = np.isnan(values)
    if suspicious.any():  # vectorised: a chunk of many empty cells costs one pass
        text = (
            frame.astype(object)
            .fillna("")
            .astype(str)
            .apply(lambda column: column.str.strip().str.lower())
        )
        bad = suspicious & ~text.isin(MISSING_TOKENS).to_numpy()
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise DataError(
                f"{where}, row {frame.index[row]}, column {frame.columns[column]!r}: "
                f"{frame.iat[row, column]!r} is not a number."
            )
    return values


def predict(model: EmmaModel, data: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
    """Predictions and failure signals for a frame (training columns) or arrays per mode."""
    predictor = Predictor(model)
    if isinstance(data, pd.DataFrame):
        return predictor.predict_frame(data)
    return predictor.predict_modes(data)


def predict_file(
    model: EmmaModel,
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Predict every row of ``source`` (CSV, TSV, JSONL, Parquet, Feather) into ``target``
    (CSV); returns the number of rows. CSV and TSV are streamed ``chunk_rows`` at a time."""
    predictor = Predictor(model)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    total = 0

    def write(handle: Any) -> None:
        nonlocal total
        first = True
        for chunk in _chunks(path, chunk_rows):
            rows = predictor.predict_frame(chunk, where=str(path))
            handle.write(rows.to_csv(index=False, header=first).encode())
            first = False
            total += len(rows)
        if first:
            raise DataError(f"{path}: the file holds no rows.")

    write_atomic(target, write)
    return total


def _chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The table in chunks of strings (numbers are parsed per mode, strictly); the index
    counts data rows from 1, as messages name them."""
    suffix = path.suffix.lower()
    start = 1
    if suffix in _STREAMED:
        reader = pd.read_csv(
            path,
            sep=_STREAMED[suffix],
            dtype=str,
            keep_default_na=False,
            chunksize=rows,
            encoding="utf-8-sig",
        )
        for chunk in reader:
            chunk.index = pd.RangeIndex(start, start + len(chunk))
            start += len(chunk)
            yield chunk
        return
    if suffix == ".jsonl":
        for chunk in pd.read_json(path, lines=True, chunksize=rows, dtype=False):
            chunk.index = pd.RangeIndex(start, start + len(chunk))
            start += len(chunk)
            yield chunk
        return
    if suffix in (".parquet", ".feather"):
        frame = pd.read_parquet(path) if suffix == ".parquet" else pd.read_feather(path)
        frame.index = pd.RangeIndex(1, len(frame) + 1)
        yield frame
        return
    raise DataError(
        f"{path}: unknown table suffix {path.suffix!r}; use .csv, .tsv, .jsonl, .parquet "
        "or .feather."
    )


__all__ = ["CHUNK_ROWS", "Predictor", "predict", "predict_file"]
