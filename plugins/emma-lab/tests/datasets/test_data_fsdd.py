"""FSDD: generated recordings, checksums, the official split, download from a local server."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _fsdd_samples import tone_hz, write_recordings
from emma_lab.datasets import fsdd
from emma_lab.datasets.audio import hz_to_mel
from emma_lab.datasets.fsdd import (
    listing_fingerprint,
    load_fsdd,
    read_recordings,
    read_wav,
    verify_checksums,
)
from local_http import closed_port_url, serve
from shared_data import shared_data_dir

from emma_plugins.core.errors import DataError
from emma_plugins.sources import DataWarning, MultiModalData, split


def sha256sums(folder: Path) -> str:
    lines = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  recordings/{p.name}\n"
        for p in sorted((folder / "recordings").glob("*.wav"))
    ]
    return "".join(lines)


def test_reads_generated_recordings_sorted(tmp_path: Path) -> None:
    write_recordings(tmp_path / "fsdd", takes=3)
    rec = read_recordings(tmp_path / "fsdd")
    assert len(rec) == 60 and rec.files[:2] == ["0_ann_0.wav", "0_ann_1.wav"]
    assert rec.digits.tolist() == sorted(rec.digits.tolist())
    assert set(rec.speakers.tolist()) == {"ann", "bob"} and rec.takes.max() == 2
    assert all(w.dtype == np.float32 and np.abs(w).max() <= 1.0 for w in rec.waveforms)


def test_load_fsdd_features_split_and_classes(tmp_path: Path) -> None:
    write_recordings(tmp_path / "fsdd", takes=10)
    data = load_fsdd(tmp_path, download=False, n_mels=24, n_frames=16)
    assert data.name == "fsdd" and data.mode_names == ["audio"] and len(data) == 200
    assert data.mode_shapes == [(16, 24)] and data.features.shape == (200, 16 * 24)
    assert data.task == "multiclass" and data.class_counts().tolist() == [20] * 10
    labels = data.predefined_split
    assert labels is not None
    rec = read_recordings(tmp_path / "fsdd")
    assert np.array_equal(labels == "test", rec.takes < 5)  # the official split
    val_per_class = np.bincount(data.target[labels == "val"], minlength=10)
    assert val_per_class.tolist() == [1] * 10  # round(0.1 * 10) per digit, from training
    (spec,) = data.mode_arrays()
    assert spec.shape == (200, 16, 24)
    peak_band = spec.mean(axis=1).argmax(axis=1)  # the tone's pitch picks the band
    edges = np.linspace(0.0, float(hz_to_mel(4000.0)), 26)
    expected = np.searchsorted(edges[1:-1], hz_to_mel(tone_hz(data.target)))
    assert np.abs(peak_band - expected).max() <= 1


def test_seed_moves_validation_not_test(tmp_path: Path) -> None:
    write_recordings(tmp_path / "fsdd", takes=10)
    a = load_fsdd(tmp_path, download=False, seed=0, val_fraction=0.3)
    b = load_fsdd(tmp_path, download=False, seed=1, val_fraction=0.3)
    assert a.predefined_split is not None and b.predefined_split is not None
    assert np.array_equal(a.predefined_split == "test", b.predefined_split == "test")
    assert not np.array_equal(a.predefined_split, b.predefined_split)
    with pytest.warns(DataWarning, match="val split has fewer than 5 rows"):  # tiny, flagged
        train, val, test = split(a, seed=0)
    assert (len(train), len(val), len(test)) == (70, 30, 100)


def test_checksums_are_enforced(tmp_path: Path) -> None:
    folder = tmp_path / "fsdd"
    paths = write_recordings(folder, takes=2)
    (folder / "SHA256SUMS").write_text(sha256sums(folder))
    verify_checksums(folder)
    assert len(load_fsdd(tmp_path, download=False)) == 40
    paths[3].write_bytes(paths[3].read_bytes()[:-2] + b"\x01\x02")
    extra = folder / "recordings" / "9_zed_0.wav"
    extra.write_bytes(paths[0].read_bytes())
    paths[5].unlink()
    with pytest.raises(DataError) as info:
        load_fsdd(tmp_path, download=False)
    message = str(info.value)
    assert "does not match its SHA256SUMS" in message
    assert f"changed ['recordings/{paths[3].name}']" in message
    assert "not listed ['recordings/9_zed_0.wav']" in message
    assert f"missing ['recordings/{paths[5].name}']" in message


def test_checksum_listing_with_a_bom_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "fsdd"
    write_recordings(folder, takes=2)
    (folder / "SHA256SUMS").write_bytes(b"\xef\xbb\xbf" + sha256sums(folder).encode())
    verify_checksums(folder)  # the first recording's digest is not lost to the BOM
    assert len(fsdd.parse_checksums("\ufeff" + sha256sums(folder))) == 40


def test_a_malformed_checksum_line_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "fsdd"
    write_recordings(folder, takes=2)
    lines = sha256sums(folder).splitlines()
    lines[2] = lines[2][:40] + "  recordings/x.wav"  # a truncated digest
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"SHA256SUMS, line 3: expected '<64 hex digits>  <path>'"):
        verify_checksums(folder)


def test_bad_files_are_explained(tmp_path: Path) -> None:
    folder = tmp_path / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    (folder / "notes.wav").write_bytes(b"")
    with pytest.raises(DataError, match=r"not named \{digit\}_\{speaker\}_\{index\}\.wav"):
        read_recordings(tmp_path / "fsdd")
    bad = folder / "1_x_0.wav"
    bad.write_bytes(b"RIFF nonsense")
    with pytest.raises(DataError, match="not a readable WAV"):
        read_wav(bad)
    from scipy.io import wavfile

    wavfile.write(bad, 16000, np.zeros(10, dtype=np.int16))
    with pytest.raises(DataError, match="mono audio at 8000 Hz"):
        read_wav(bad)


def test_absent_without_download_explains(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"fsdd/recordings holds no \.wav.*EMMA_DATA_DIR"):
        load_fsdd(tmp_path, download=False)


def test_fingerprint_is_that_of_sha256sum_output(tmp_path: Path) -> None:
    digests = {"b.wav": "1" * 64, "B.wav": "2" * 64, "a.wav": "3" * 64}
    listing = f"{'2' * 64}  B.wav\n{'3' * 64}  a.wav\n{'1' * 64}  b.wav\n"  # C-locale order
    assert listing_fingerprint(digests) == hashlib.sha256(listing.encode()).hexdigest()


def served_archive(site: Path, source: Path) -> str:
    """A GitHub-style zip: ``<repo>-<commit>/recordings/*.wav`` plus other files."""
    site.mkdir(parents=True, exist_ok=True)
    top = f"free-spoken-digit-dataset-{fsdd.COMMIT}"
    digests = {}
    with zipfile.ZipFile(site / "fsdd.zip", "w") as zf:
        zf.writestr(f"{top}/README.md", "synthetic")
        zf.writestr(f"{top}/utils/spectro.py", "print()")
        for path in sorted((source / "recordings").glob("*.wav")):
            zf.write(path, f"{top}/recordings/{path.name}")
            digests[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return listing_fingerprint(digests)


def test_downloads_when_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_recordings(tmp_path / "source", takes=2)
    fingerprint = served_archive(tmp_path / "site", tmp_path / "source")
    monkeypatch.setattr(fsdd, "FINGERPRINT", fingerprint)
    with serve(tmp_path / "site") as base:
        data = load_fsdd(tmp_path / "data", url=f"{base}/fsdd.zip", progress=False)
    folder = tmp_path / "data" / "fsdd"
    assert len(data) == 40
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256SUMS", "recordings"]
    assert (folder / "SHA256SUMS").read_text() == sha256sums(tmp_path / "source")
    again = load_fsdd(tmp_path / "data", url=closed_port_url())  # from disk, verified
    assert again.features.equals(data.features)


def test_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_recordings(tmp_path / "source", takes=1)
    monkeypatch.setattr(fsdd, "FINGERPRINT", served_archive(tmp_path / "site", tmp_path / "source"))
    (tmp_path / "data" / "fsdd" / "recordings").mkdir(parents=True)  # empty: still downloads
    with serve(tmp_path / "site") as base:
        monkeypatch.setenv(fsdd.URL_ENV, f"{base}/fsdd.zip")
        assert len(load_fsdd(tmp_path / "data", progress=False)) == 20


def test_download_fingerprint_mismatch_keeps_nothing(tmp_path: Path) -> None:
    write_recordings(tmp_path / "source", takes=1)
    served_archive(tmp_path / "site", tmp_path / "source")  # not the real recordings
    with serve(tmp_path / "site") as base, pytest.raises(DataError) as info:
        load_fsdd(tmp_path / "data", url=f"{base}/fsdd.zip", progress=False)
    assert "do not match the pinned FSDD fingerprint" in str(info.value)
    assert "Nothing was kept" in str(info.value)
    assert list((tmp_path / "data" / "fsdd").iterdir()) == []


def test_not_a_zip_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "fsdd.zip").write_bytes(b"<html>not found</html>")
    with serve(tmp_path / "site") as base, pytest.raises(DataError, match="not a valid zip"):
        load_fsdd(tmp_path / "data", url=f"{base}/fsdd.zip", progress=False)


def test_no_network_says_where_to_put_the_files(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_fsdd(tmp_path / "data", url=closed_port_url("fsdd.zip"), progress=False)
    message = str(info.value)
    assert str(tmp_path / "data" / "fsdd") in message and "recordings/*.wav" in message
    assert "EMMA_DATA_DIR" in message and fsdd.PAGE in message


@pytest.fixture(scope="module")
def real_fsdd() -> tuple[Path, MultiModalData]:
    root = shared_data_dir("fsdd", "SHA256SUMS", "recordings/0_george_0.wav")
    return root, load_fsdd(root, download=False)


def test_real_recordings_match_their_readme(real_fsdd: tuple[Path, MultiModalData]) -> None:
    root, data = real_fsdd
    listed = fsdd.parse_checksums((root / "fsdd" / "SHA256SUMS").read_text())
    names = {k.removeprefix("recordings/"): v for k, v in listed.items()}
    assert listing_fingerprint(names) == fsdd.FINGERPRINT
    assert len(data) == 3000 and data.class_counts().tolist() == [300] * 10
    assert data.predefined_split is not None
    counts = {s: int((data.predefined_split == s).sum()) for s in ("train", "val", "test")}
    assert counts == {"train": 2430, "val": 270, "test": 300}
    (spec,) = data.mode_arrays()
    assert spec.shape == (3000, 32, 32) and np.isfinite(spec).all()


@pytest.mark.slow
def test_real_features_separate_the_digits(real_fsdd: tuple[Path, MultiModalData]) -> None:
    from sklearn.linear_model import LogisticRegression

    _, data = real_fsdd
    train, _, test = split(data, seed=0)
    flat = [part.features.to_numpy() for part in (train, test)]
    model = LogisticRegression(max_iter=300, C=0.1).fit(flat[0], train.target)
    assert (model.predict(flat[1]) == test.target).mean() > 0.9  # measured 0.97
