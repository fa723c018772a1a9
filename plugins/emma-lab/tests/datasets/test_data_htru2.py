"""HTRU2: line endings, header, refused tables, download from a local server, real data."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from emma_lab.datasets import htru2
from emma_lab.datasets.htru2 import load_htru2, read_htru2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_http import closed_port_url, serve
from shared_data import shared_data_dir

from emma_plugins.core.errors import DataError
from emma_plugins.sources import split

TMP = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NEWLINES = st.sampled_from(["\n", "\r", "\r\n"])


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


def test_class_error_names_the_line(tmp_path: Path) -> None:
    rows = synthetic_rows(5)
    rows[3] = rows[3].rsplit(",", 1)[0] + ",2"
    with pytest.raises(DataError, match=r"x\.csv, line 4, column 9 \(class\): 2; the class must"):
        read_htru2(write(tmp_path / "x.csv", rows, "\n", True))


@TMP
@given(extra=st.integers(1, 3), at=st.integers(0, 9), newline=NEWLINES)
def test_extra_columns_are_refused_wherever_they_are(
    tmp_path: Path, extra: int, at: int, newline: str
) -> None:
    """The user's defect: an extra (last) column made the class a feature, silently."""
    rows = [
        ",".join(r.split(",")[:at] + ["1"] * extra + r.split(",")[at:]) for r in synthetic_rows()
    ]
    path = write(tmp_path / "HTRU_2.csv", rows, newline, True)
    expected = f"{path}, line 1: found {9 + extra} fields, expected 9 (ip_mean, "
    with pytest.raises(DataError, match=re.escape(expected)):
        read_htru2(path)


@TMP
@given(dropped=st.integers(0, 8), row=st.integers(0, 29))
def test_a_missing_column_is_refused(tmp_path: Path, dropped: int, row: int) -> None:
    rows = synthetic_rows()
    fields = rows[row].split(",")
    rows[row] = ",".join(fields[:dropped] + fields[dropped + 1 :])
    path = write(tmp_path / "HTRU_2.csv", rows, "\n", True)
    with pytest.raises(DataError, match=rf"line {row + 1}: found 8 fields, expected 9"):
        read_htru2(path)


def test_a_header_with_another_column_count_is_refused(tmp_path: Path) -> None:
    header = ",".join(f"col{i}" for i in range(10))
    path = write(tmp_path / "h.csv", [header, *synthetic_rows()], "\n", True)
    with pytest.raises(DataError, match=r"line 1 \(the header\): found 10 columns, expected 9"):
        read_htru2(path)


@TMP
@given(newline=NEWLINES, header=st.booleans())
def test_a_utf8_bom_costs_no_row(tmp_path: Path, newline: str, header: bool) -> None:
    rows = synthetic_rows()
    lines = [",".join(f"col{i}" for i in range(9)), *rows] if header else rows
    plain = read_htru2(write(tmp_path / "a.csv", rows, "\n", True))
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + newline.join(lines).encode())
    data = read_htru2(path)
    assert len(data) == 30
    assert data.features.equals(plain.features) and np.array_equal(data.target, plain.target)


@TMP
@given(
    row=st.integers(0, 29),
    column=st.integers(0, 8),
    cell=st.sampled_from(["nan", "inf", "-Infinity", "", "n/a", "1e999", "?"]),
    header=st.booleans(),
)
def test_a_bad_cell_names_file_line_and_column(
    tmp_path: Path, row: int, column: int, cell: str, header: bool
) -> None:
    rows = synthetic_rows()
    fields = rows[row].split(",")
    fields[column] = cell
    rows[row] = ",".join(fields)
    lines = [",".join(f"col{i}" for i in range(9)), *rows] if header else rows
    path = write(tmp_path / "HTRU_2.csv", lines, "\r", False)
    name = [*htru2.IP_COLUMNS, *htru2.DM_SNR_COLUMNS, "class"][column]
    where = f"{path}, line {row + 1 + int(header)}, column {column + 1} ({name}): "
    with pytest.raises(DataError, match=re.escape(where)):
        read_htru2(path)


def test_a_huge_value_is_refused_before_it_is_scaled(tmp_path: Path) -> None:
    rows = synthetic_rows(60)
    fields = rows[12].split(",")
    fields[5] = "1e308"
    rows[12] = ",".join(fields)
    data = read_htru2(write(tmp_path / "HTRU_2.csv", rows, "\n", True))
    with pytest.raises(DataError, match=r"row 12, column 'dm_snr_std' is 1e\+308, beyond float32"):
        split(data, seed=0)


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
