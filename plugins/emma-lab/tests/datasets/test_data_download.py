"""Downloads against a local server: atomic, checksum-verified, safe extraction, clear errors."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from emma_lab.datasets.download import (
    download_file,
    extract_tar,
    extract_zip,
    fetch_archive,
    url_from_env,
)
from local_http import closed_port_url, serve

from emma_plugins.core.errors import DataError

PAYLOAD = b"1,2,3\r4,5,6"
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
MANUAL = "Place data.csv in /somewhere/ds/."


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_download_file_verifies_and_renames(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "data.csv").write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "data.csv"
    with serve(tmp_path / "site") as base:
        download_file(f"{base}/data.csv", dest, sha256=PAYLOAD_SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == ["data.csv"]  # no temporary file left behind


def test_downloaded_files_get_the_umask_default_mode(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "data.csv").write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "data.csv"
    previous = os.umask(0o027)
    try:
        with serve(tmp_path / "site") as base:
            download_file(f"{base}/data.csv", dest, sha256=PAYLOAD_SHA, progress=False)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640  # not mkstemp's 0o600


def test_download_file_checksum_mismatch_deletes_file(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "data.csv").write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "data.csv"
    with serve(tmp_path / "site") as base, pytest.raises(DataError) as info:
        download_file(f"{base}/data.csv", dest, sha256="0" * 64, manual=MANUAL, progress=False)
    assert "Checksum mismatch" in str(info.value) and PAYLOAD_SHA in str(info.value)
    assert MANUAL in str(info.value)
    assert leftovers(dest.parent) == []


def test_missing_remote_file_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    with serve(tmp_path / "site") as base, pytest.raises(DataError, match="404"):
        download_file(f"{base}/absent.zip", tmp_path / "out" / "x.zip", progress=False)


def test_no_network_message_says_how_to_supply(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        download_file(closed_port_url(), tmp_path / "x.zip", manual=MANUAL, progress=False)
    assert "Could not download" in str(info.value) and MANUAL in str(info.value)
    assert leftovers(tmp_path) == []


def test_fetch_archive_moves_only_verified_members(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    make_zip(site / "ds.zip", {"ds/data.csv": PAYLOAD, "ds/readme.txt": b"hello"})
    with serve(site) as base:
        paths = fetch_archive(
            f"{base}/ds.zip", tmp_path / "data" / "ds", {"data.csv": PAYLOAD_SHA}, progress=False
        )
    assert paths == {"data.csv": tmp_path / "data" / "ds" / "data.csv"}
    assert leftovers(tmp_path / "data" / "ds") == ["data.csv"]


def test_fetch_archive_mismatch_keeps_nothing(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    make_zip(site / "ds.zip", {"data.csv": PAYLOAD})
    with serve(site) as base, pytest.raises(DataError, match=r"Checksum mismatch for data\.csv"):
        fetch_archive(f"{base}/ds.zip", tmp_path / "ds", {"data.csv": "ab" * 32}, progress=False)
    assert leftovers(tmp_path / "ds") == []


def test_fetch_archive_reads_a_tar_nested_in_the_zip(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        info = tarfile.TarInfo("inner/data.csv")
        info.size = len(PAYLOAD)
        tf.addfile(info, io.BytesIO(PAYLOAD))
    site = tmp_path / "site"
    site.mkdir()
    make_zip(site / "ds.zip", {"bundle.tar": buffer.getvalue()})
    with serve(site) as base:
        fetch_archive(f"{base}/ds.zip", tmp_path / "ds", {"data.csv": PAYLOAD_SHA}, progress=False)
    assert (tmp_path / "ds" / "data.csv").read_bytes() == PAYLOAD


def test_fetch_archive_names_absent_member(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    make_zip(site / "ds.zip", {"other.csv": PAYLOAD})
    with serve(site) as base, pytest.raises(DataError, match=r"no file named 'data.csv'.*other"):
        fetch_archive(f"{base}/ds.zip", tmp_path / "ds", {"data.csv": PAYLOAD_SHA}, progress=False)


def test_not_a_zip_is_a_data_error(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "ds.zip").write_bytes(b"<html>not a zip</html>")
    with serve(site) as base, pytest.raises(DataError, match="not a valid archive"):
        fetch_archive(f"{base}/ds.zip", tmp_path / "ds", {"data.csv": PAYLOAD_SHA}, progress=False)


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt", "C:/evil.txt"]
)
def test_zip_path_traversal_is_refused(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "bad.zip", {"ok.txt": b"ok", name: b"evil"})
    with pytest.raises(DataError, match="unsafe path"):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_tar_path_traversal_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(DataError, match="unsafe path"):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_oversized_archive_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "big.zip", {"big.bin": b"\0" * 10_000})
    with pytest.raises(DataError, match="would unpack"):
        extract_zip(archive, tmp_path / "out", max_bytes=1_000)


def test_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMMA_TEST_URL", raising=False)
    assert url_from_env("https://default", "EMMA_TEST_URL") == "https://default"
    monkeypatch.setenv("EMMA_TEST_URL", "http://127.0.0.1:1/x.zip")
    assert url_from_env("https://default", "EMMA_TEST_URL") == "http://127.0.0.1:1/x.zip"
