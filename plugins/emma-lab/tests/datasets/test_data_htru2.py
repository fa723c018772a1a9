"""HTRU2: both line endings, header tolerance, download from a local server, real-data checks."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from local_http import closed_port_url, serve
from shared_data import shared_data_dir

from emma_lab.datasets import htru2
from emma_lab.datasets.htru2 import load_htru2, read_htru2
from emma_plugins.core.errors import DataError


def synthetic_rows(n: int = 30, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, 8)).round(6)
    labels = (np.arange(n) % 5 == 0).astype(int)
    return [
        ",".join(f"{v:g}" for v in row) + f",{c}" for row, c in zip(values, labels, strict=True)
    ]


def write(path: Path, rows: list[str], newline: str, final: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(rows) + (newline if final else "")).encode())
    return path


@pytest.mark.parametrize(("newline", "final"), [("\n", True), ("\r", False), ("\r\n", True)])
def test_line_endings_parse_identically(tmp_path: Path, newline: str, final: bool) -> None:
    rows = synthetic_rows()
    reference = read_htru2(write(tmp_path / "lf.csv", rows, "\n", True))
    data = read_htru2(write(tmp_path / "x.csv", rows, newline, final))
    assert len(data) == 30
    assert data.modes == {"ip": htru2.IP_COLUMNS, "dm_snr": htru2.DM_SNR_COLUMNS}
    assert data.features.equals(reference.features)
    assert np.array_equal(data.target, (np.arange(30) % 5 == 0).astype(int))


def test_header_row_is_skipped(tmp_path: Path) -> None:
    rows = synthetic_rows()
    plain = read_htru2(write(tmp_path / "a.csv", rows, "\n", True))
    header = ",".join(f"col{i}" for i in range(9))
    with_header = read_htru2(write(tmp_path / "b.csv", [header, *rows], "\n", True))
    assert with_header.features.equals(plain.features)


def test_malformed_file_is_a_data_error(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.csv", ["1,2,3,4,5,6,7,8,7"], "\n", True)
    with pytest.raises(DataError, match="class must be 0 or 1"):
        read_htru2(bad)


def test_reads_from_data_dir_argument(tmp_path: Path) -> None:
    write(tmp_path / "htru2" / "HTRU_2.csv", synthetic_rows(), "\r", False)
    data = load_htru2(tmp_path, download=False)
    assert data.name == "htru2" and data.task == "binary" and len(data) == 30


def test_absent_file_without_download_explains(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"htru2/HTRU_2\.csv.*EMMA_DATA_DIR"):
        load_htru2(tmp_path, download=False)


def served_zip(site: Path, rows: list[str]) -> str:
    """Zip the synthetic CSV (CR endings, as UCI ships it); returns the CSV's SHA-256."""
    content = "\r".join(rows).encode()
    site.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(site / "htru2.zip", "w") as zf:
        zf.writestr("HTRU_2.csv", content)
        zf.writestr("Readme.txt", "synthetic")
    return hashlib.sha256(content).hexdigest()


def test_downloads_when_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = served_zip(tmp_path / "site", synthetic_rows())
    monkeypatch.setattr(htru2, "SHA256", (sha,))
    with serve(tmp_path / "site") as base:
        data = load_htru2(tmp_path / "data", url=f"{base}/htru2.zip", progress=False)
    assert len(data) == 30
    assert sorted(p.name for p in (tmp_path / "data" / "htru2").iterdir()) == ["HTRU_2.csv"]
    again = load_htru2(tmp_path / "data", url=closed_port_url())  # now read from disk
    assert again.features.equals(data.features)


def test_zip_nested_in_the_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = served_zip(tmp_path / "inner", synthetic_rows())
    (tmp_path / "site").mkdir()
    with zipfile.ZipFile(tmp_path / "site" / "htru2.zip", "w") as zf:
        zf.write(tmp_path / "inner" / "htru2.zip", "HTRU2.zip")
    monkeypatch.setattr(htru2, "SHA256", (sha,))
    with serve(tmp_path / "site") as base:
        assert len(load_htru2(tmp_path / "data", url=f"{base}/htru2.zip", progress=False)) == 30


def test_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = served_zip(tmp_path / "site", synthetic_rows())
    monkeypatch.setattr(htru2, "SHA256", (sha,))
    with serve(tmp_path / "site") as base:
        monkeypatch.setenv(htru2.URL_ENV, f"{base}/htru2.zip")
        assert len(load_htru2(tmp_path / "data", progress=False)) == 30


def test_download_checksum_mismatch(tmp_path: Path) -> None:
    served_zip(tmp_path / "site", synthetic_rows())  # synthetic, so not the real digests
    with serve(tmp_path / "site") as base, pytest.raises(DataError) as info:
        load_htru2(tmp_path / "data", url=f"{base}/htru2.zip", progress=False)
    message = str(info.value)
    assert "Checksum mismatch for HTRU_2.csv" in message and "was deleted" in message
    assert not (tmp_path / "data" / "htru2" / "HTRU_2.csv").exists()
    assert list((tmp_path / "data" / "htru2").iterdir()) == []


def test_no_network_says_where_to_put_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_htru2(tmp_path / "data", url=closed_port_url("htru2.zip"), progress=False)
    message = str(info.value)
    assert str(tmp_path / "data" / "htru2") in message
    assert "HTRU_2.csv" in message and "EMMA_DATA_DIR" in message


def test_real_file_matches_its_readme() -> None:
    root = shared_data_dir("htru2", "HTRU_2.csv")
    path = root / "htru2" / "HTRU_2.csv"
    assert hashlib.sha256(path.read_bytes()).hexdigest() in htru2.SHA256
    data = load_htru2(root, download=False)
    assert len(data) == 17_898
    assert data.class_counts().tolist() == [16_259, 1_639]
    assert data.features.iloc[0].tolist() == pytest.approx(
        [
            140.5625,
            55.68378214,
            -0.234571412,
            -0.699648398,
            3.199832776,
            19.11042633,
            7.975531794,
            74.24222492,
        ]
    )
    ip, dm = data.mode_arrays()
    assert ip.shape == dm.shape == (17_898, 4) and ip.dtype == np.float32
