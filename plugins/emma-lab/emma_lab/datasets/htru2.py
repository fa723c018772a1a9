"""HTRU2 pulsar candidates (UCI 372): the two-mode data set of the thesis, chapter 6.

Reads ``<data dir>/htru2/HTRU_2.csv`` (8 features + class, no header; LF or CR line endings).
When the file is absent it is downloaded from the UCI repository, and the extracted CSV's
SHA-256 must match one of the two published variants (CR endings as UCI ships it, or LF).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from emma_plugins.core.errors import DataError
from emma_plugins.sources.container import MultiModalData
from emma_lab.datasets.download import fetch_archive, url_from_env
from emma_plugins.sources.paths import manual_instructions, resolve_data_dir

NAME = "htru2"
FILE = "HTRU_2.csv"
URL = "https://archive.ics.uci.edu/static/public/372/htru2.zip"
URL_ENV = "EMMA_HTRU2_URL"
PAGE = "https://archive.ics.uci.edu/dataset/372/htru2"
#: SHA-256 of HTRU_2.csv: CR line endings without a final newline (the UCI file), and LF.
SHA256 = (
    "b13b4d8929e96ecd196e464c1c8a454c3ac2ffa631015f6388957531a9923f59",
    "b2b388ceaa9718d00f6feba97bfe7096ee61996526cee2bea94e9dd034e9cbbe",
)

IP_COLUMNS = ["ip_mean", "ip_std", "ip_kurtosis", "ip_skewness"]
DM_SNR_COLUMNS = ["dm_snr_mean", "dm_snr_std", "dm_snr_kurtosis", "dm_snr_skewness"]
MODES = {"ip": IP_COLUMNS, "dm_snr": DM_SNR_COLUMNS}


def load_htru2(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    url: str | None = None,
    progress: bool | None = None,
) -> MultiModalData:
    """HTRU2 with modes ``ip`` (integrated profile) and ``dm_snr`` (DM-SNR curve).

    Target: 1 = pulsar (about 1 row in 11), 0 = RFI or noise. ``url`` overrides the download
    address (also ``$EMMA_HTRU2_URL``).
    """
    root = resolve_data_dir(data_dir)
    path = root / NAME / FILE
    if not path.is_file():
        manual = manual_instructions(NAME, [FILE], root, PAGE)
        if not download:
            raise DataError(f"{path} does not exist and download=False. {manual}")
        fetch_archive(
            url or url_from_env(URL, URL_ENV),
            root / NAME,
            {FILE: SHA256},
            progress=progress,
            manual=manual,
        )
    return read_htru2(path)


def read_htru2(path: Path) -> MultiModalData:
    """Parse an HTRU2 CSV (header row optional, any line ending)."""
    text = path.read_bytes().decode("ascii", errors="replace").replace("\r\n", "\n")
    text = text.replace("\r", "\n")
    first = text.split("\n", 1)[0]
    header = 0 if first and not _is_number(first.split(",")[0]) else None
    names = [*IP_COLUMNS, *DM_SNR_COLUMNS, "class"]
    try:
        table = pd.read_csv(io.StringIO(text), header=header, names=names, dtype=np.float64)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path} is not an HTRU2 CSV with 9 numeric columns: {exc}") from exc
    values = table.to_numpy()
    if not np.all(np.isfinite(values)) or not set(np.unique(values[:, -1])) <= {0.0, 1.0}:
        raise DataError(f"{path}: every field must be finite and the class must be 0 or 1.")
    return MultiModalData(
        name=NAME,
        features=table[names[:-1]],
        target=values[:, -1].astype(np.int64),
        modes={k: list(v) for k, v in MODES.items()},
        task="binary",
        n_classes=2,
        description="HTRU2 pulsar candidates (Lyon et al. 2016), UCI, CC BY 4.0.",
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
