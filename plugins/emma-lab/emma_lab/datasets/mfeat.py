"""UCI Multiple Features (UCI 72): 2,000 handwritten digits seen through six feature views.

Two layouts of ``<data dir>/mfeat/`` are read:

- the CSV copy (``mfeat-fou.csv`` ...): a header row of column indices (``0,1,...``), the
  class label in the last column;
- the original UCI files (``mfeat-fou`` ...): whitespace-separated numbers, no labels,
  200 rows per class in class order (rows 1-200 are digit 0, and so on).

Every file must have exactly its view's number of columns (plus the label in the CSV copy)
and only finite numbers; anything else is a `DataError` naming the file, line and column.

Downloads fetch the original files. They are verified by a digest of their parsed values
(`values_sha256`), which is the same for both layouts, so one set of digests checks both.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emma_lab.datasets.download import fetch_archive, url_from_env
from emma_plugins.core.errors import DataError
from emma_plugins.sources.container import MultiModalData, declares_task
from emma_plugins.sources.paths import manual_instructions, resolve_data_dir
from emma_plugins.sources.tables import Header, read_numeric_table

NAME = "mfeat"
URL = "https://archive.ics.uci.edu/static/public/72/multiple+features.zip"
URL_ENV = "EMMA_MFEAT_URL"
PAGE = "https://archive.ics.uci.edu/dataset/72/multiple+features"
N_CLASSES = 10
PER_CLASS = 200
#: The name given to the CSV copy's last column (the class label).
LABEL_COLUMN = "class"
#: view -> number of features, in the order the modes are exposed.
VIEWS = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
#: view -> `values_sha256` of its 2000 x width feature matrix.
VALUES_SHA256 = {
    "fou": "f0a30cbc47fe84ec619588666b8522f2a6ef7d08c67d8ce177c3acc8094dd464",
    "fac": "af05ea4b3838e7d6f9c06b4f7607a4775ae403191ff00375616292f3be1cde63",
    "kar": "91d3588caaf5896bae4b4e6985c24608145f6635bb9513da4191f53eb2a3408d",
    "pix": "67327eada98c86abf6ef7a0b496daa0dcef2cd8ace193f86397c7f6656fcb5e5",
    "zer": "553b8b0f23aa7f5dbfc35eac5a0317b89a4bfd7b9bdddffe6fac8f7ede81d170",
    "mor": "87595c4bd97de4740be3e3dba5b9b285708f191a238af8d8000a4b53bcb61bbd",
}


@declares_task("multiclass", N_CLASSES)
def load_mfeat(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    url: str | None = None,
    progress: bool | None = None,
) -> MultiModalData:
    """Multiple Features with six modes (fou, fac, kar, pix, zer, mor) and 10 classes."""
    root = resolve_data_dir(data_dir)
    folder = root / NAME
    if not _has_csv_layout(folder) and not _has_original_layout(folder):
        originals = [f"mfeat-{v}" for v in VIEWS]
        manual = manual_instructions(NAME, originals, root, PAGE)
        if not download:
            raise DataError(f"{folder} holds neither mfeat layout and download=False. {manual}")
        fetch_archive(
            url or url_from_env(URL, URL_ENV),
            folder,
            {f"mfeat-{v}": VALUES_SHA256[v] for v in VIEWS},
            digest=_file_values_sha256,
            progress=progress,
            manual=manual,
        )
    return read_mfeat(folder)


def read_mfeat(folder: Path) -> MultiModalData:
    """Read either layout of ``folder`` (the CSV copy wins when both are present)."""
    matrices: dict[str, NDArray[np.float64]] = {}
    labels: NDArray[np.int64] | None = None
    if _has_csv_layout(folder):
        for view in VIEWS:
            matrix, view_labels = _read_csv(folder / f"mfeat-{view}.csv")
            if labels is not None and not np.array_equal(labels, view_labels):
                raise DataError(f"{folder}: the label column of mfeat-{view}.csv disagrees.")
            matrices[view], labels = matrix, view_labels
    elif _has_original_layout(folder):
        matrices = {view: read_original(folder / f"mfeat-{view}") for view in VIEWS}
        labels = np.repeat(np.arange(N_CLASSES, dtype=np.int64), PER_CLASS)
    else:
        raise DataError(f"{folder} holds neither mfeat-<view>.csv nor mfeat-<view> files.")
    for view, width in VIEWS.items():
        if matrices[view].shape != (N_CLASSES * PER_CLASS, width):
            raise DataError(
                f"{folder}: mfeat-{view} has shape {matrices[view].shape}, "
                f"expected ({N_CLASSES * PER_CLASS}, {width})."
            )
    columns = {view: [f"{view}_{j}" for j in range(width)] for view, width in VIEWS.items()}
    features = pd.concat([pd.DataFrame(matrices[v], columns=columns[v]) for v in VIEWS], axis=1)
    assert labels is not None
    return MultiModalData(
        name=NAME,
        features=features,
        target=labels,
        modes=columns,
        task="multiclass",
        n_classes=N_CLASSES,
        description="UCI Multiple Features (Duin), handwritten digits 0-9, CC BY 4.0.",
    )


def read_original(path: Path, view: str | None = None) -> NDArray[np.float64]:
    """One original UCI view file: whitespace-separated numbers, one row per digit.

    ``view`` (default: from the file name, ``mfeat-<view>``) fixes the number of columns
    every row must have.
    """
    return _read_table(path, view, header="none").to_numpy()


def values_sha256(matrix: NDArray[np.float64]) -> str:
    """SHA-256 of a matrix's shape and its float64 values (little-endian, row-major)."""
    header = f"{matrix.shape[0]}x{matrix.shape[1]}".encode()
    body = np.ascontiguousarray(matrix, dtype="<f8").tobytes()
    return hashlib.sha256(header + body).hexdigest()


def _file_values_sha256(path: Path) -> str:
    try:
        return values_sha256(read_original(path))
    except DataError as exc:
        return f"unreadable ({exc})"


def _read_csv(path: Path) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    table = _read_table(path, path.name.removesuffix(".csv"), header="required")
    labels = table.pop(LABEL_COLUMN).to_numpy()
    bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels >= N_CLASSES))
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"{path}, line {table.index[row]}, column {table.shape[1] + 1} ({LABEL_COLUMN}): "
            f"{labels[row]:g}; the last column must be a class label 0-{N_CLASSES - 1}."
        )
    return table.to_numpy(), labels.astype(np.int64)


def _read_table(path: Path, view: str | None, *, header: Header) -> pd.DataFrame:
    """A view's file with exactly its columns (and, for the CSV copy, the label column).

    The CSV copy's header must name the feature columns by their indices (``0,1,...``);
    the label column's name is not checked.
    """
    view = view or path.name
    view = view.removeprefix("mfeat-")
    if view not in VIEWS:
        raise DataError(f"{path}: unknown mfeat view {view!r}; expected one of {list(VIEWS)}.")
    columns = [f"{view}_{j}" for j in range(VIEWS[view])]
    if header == "none":
        return read_numeric_table(path, columns, sep=None)
    indices: list[str | None] = [str(j) for j in range(VIEWS[view])]
    return read_numeric_table(
        path, [*columns, LABEL_COLUMN], header=header, expected_header=[*indices, None]
    )


def _has_csv_layout(folder: Path) -> bool:
    return all((folder / f"mfeat-{v}.csv").is_file() for v in VIEWS)


def _has_original_layout(folder: Path) -> bool:
    return all((folder / f"mfeat-{v}").is_file() for v in VIEWS)
