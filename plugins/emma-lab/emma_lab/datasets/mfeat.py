"""UCI Multiple Features (UCI 72): 2,000 handwritten digits seen through six feature views.

Two layouts of ``<data dir>/mfeat/`` are read:

- the CSV copy (``mfeat-fou.csv`` ...): a header row, the class label in the last column;
- the original UCI files (``mfeat-fou`` ...): whitespace-separated numbers, no labels,
  200 rows per class in class order (rows 1-200 are digit 0, and so on).

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

from emma_plugins.core.errors import DataError
from emma_plugins.sources.container import MultiModalData
from emma_lab.datasets.download import fetch_archive, url_from_env
from emma_plugins.sources.paths import manual_instructions, resolve_data_dir

NAME = "mfeat"
URL = "https://archive.ics.uci.edu/static/public/72/multiple+features.zip"
URL_ENV = "EMMA_MFEAT_URL"
PAGE = "https://archive.ics.uci.edu/dataset/72/multiple+features"
N_CLASSES = 10
PER_CLASS = 200
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


def read_original(path: Path) -> NDArray[np.float64]:
    """One original UCI view file: whitespace-separated numbers, one row per digit."""
    try:
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype=np.float64)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path} is not a whitespace-separated numeric table: {exc}") from exc
    return _finite(table.to_numpy(), path)


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
    try:
        table = pd.read_csv(path, header=0, dtype=np.float64)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path} is not a numeric CSV with a header row: {exc}") from exc
    values = _finite(table.to_numpy(), path)
    labels = values[:, -1]
    if not np.all((labels == np.round(labels)) & (labels >= 0) & (labels < N_CLASSES)):
        raise DataError(f"{path}: the last column must be a class label 0-{N_CLASSES - 1}.")
    return values[:, :-1], labels.astype(np.int64)


def _finite(values: NDArray[np.float64], path: Path) -> NDArray[np.float64]:
    if values.ndim != 2 or not np.all(np.isfinite(values)):
        raise DataError(f"{path}: every field must be a finite number.")
    return values


def _has_csv_layout(folder: Path) -> bool:
    return all((folder / f"mfeat-{v}.csv").is_file() for v in VIEWS)


def _has_original_layout(folder: Path) -> bool:
    return all((folder / f"mfeat-{v}").is_file() for v in VIEWS)
