"""HTRU2 pulsar candidates (UCI 372): the two-mode data set of the thesis, chapter 6.

Reads ``<data dir>/htru2/HTRU_2.csv`` (8 features + class, no header; LF or CR line endings).
The file must have exactly 9 columns: see `read_htru2` for what is refused.
When the file is absent it is downloaded from the UCI repository, and the extracted CSV's
SHA-256 must match one of the two published variants (CR endings as UCI ships it, or LF).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from emma_lab.datasets.download import fetch_archive, url_from_env
from emma_plugins.core.errors import DataError
from emma_plugins.sources.container import MultiModalData, declares_task
from emma_plugins.sources.paths import manual_instructions, resolve_data_dir
from emma_plugins.sources.tables import read_numeric_table

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
CLASS_COLUMN = "class"


@declares_task("binary", 2)
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
    """Parse an HTRU2 CSV: 9 numeric columns, any line ending, UTF-8 or ASCII.

    A header row is skipped only when every field is a name (no number, some letter), and
    it must have 9 fields too; a UTF-8 byte order mark is ignored. A row with another
    number of fields, a cell that is not a finite number or a class other than 0 or 1 is a
    `DataError` that names the file, the line and the column (see
    `emma_plugins.sources.tables`).
    """
    names = [*IP_COLUMNS, *DM_SNR_COLUMNS, CLASS_COLUMN]
    table = read_numeric_table(path, names, header="optional")
    labels = table[CLASS_COLUMN].to_numpy()
    bad = np.flatnonzero((labels != 0.0) & (labels != 1.0))
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"{path}, line {table.index[row]}, column 9 ({CLASS_COLUMN}): {labels[row]:g}; the "
            "class must be 0 or 1. Are the columns shifted (an extra or missing column)?"
        )
    return MultiModalData(
        name=NAME,
        features=table[names[:-1]].reset_index(drop=True),
        target=labels.astype(np.int64),
        modes={k: list(v) for k, v in MODES.items()},
        task="binary",
        n_classes=2,
        description="HTRU2 pulsar candidates (Lyon et al. 2016), UCI, CC BY 4.0.",
    )
