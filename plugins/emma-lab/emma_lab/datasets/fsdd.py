"""Free Spoken Digit Dataset (FSDD): 3,000 recordings of spoken digits at 8 kHz, one mode.

Reads ``<data dir>/fsdd/recordings/{digit}_{speaker}_{index}.wav``. When
``<data dir>/fsdd/SHA256SUMS`` exists (``sha256sum`` format, ``recordings/<name>`` paths),
every recording is checked against it and the folder must hold exactly the listed files.
A folder without it (recordings supplied by hand, or generated test clips) is read as it
is. When no recording is present, the dataset's GitHub archive at a pinned commit is
downloaded; its recordings must match the fingerprint `FINGERPRINT` (the SHA-256 of their
``sha256sum`` listing, in C-locale file order) and a ``SHA256SUMS`` is written beside them.

The official split puts takes 0-4 of every speaker and digit in the test set; validation
is carved from the remaining takes, stratified by digit, with a seed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.io import wavfile

from emma_lab.datasets.audio import LogMelConfig, fit_length, log_mel_spectrogram
from emma_lab.datasets.download import download_file, extract_zip, file_sha256, url_from_env
from emma_plugins.core.errors import DataError
from emma_plugins.sources.container import MultiModalData, declares_task
from emma_plugins.sources.paths import manual_instructions, resolve_data_dir
from emma_plugins.sources.splits import carve_validation
from emma_plugins.sources.tables import read_text

NAME = "fsdd"
MODE = "audio"
N_CLASSES = 10
SAMPLE_RATE = 8000
#: Takes with an index below this are the official test set.
TEST_TAKES = 5
COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/{COMMIT}.zip"
URL_ENV = "EMMA_FSDD_URL"
PAGE = "https://github.com/Jakobovski/free-spoken-digit-dataset"
#: SHA-256 of ``sha256sum *.wav`` run in ``recordings/`` (C locale): the 3,000 recordings.
FINGERPRINT = "1801eae019c063377d98f831d3f93574f259475df7332bb0e3d1b080fb5e6959"
CHECKSUMS = "SHA256SUMS"
CHECKSUM_LINE = re.compile(r"(?P<digest>[0-9A-Fa-f]{64})\s+\*?(?P<name>\S.*)")
FILE_PATTERN = re.compile(r"(?P<digit>[0-9])_(?P<speaker>[A-Za-z0-9]+)_(?P<index>[0-9]+)\.wav")


@dataclass(frozen=True)
class Recordings:
    """Waveforms in [-1, 1] and what their file names say, sorted by digit, speaker, take."""

    waveforms: list[NDArray[np.float32]]
    digits: NDArray[np.int64]
    speakers: NDArray[np.str_]
    takes: NDArray[np.int64]
    files: list[str]

    def __len__(self) -> int:
        return len(self.files)

    def official_split(self, val_fraction: float, seed: int) -> NDArray[np.str_]:
        """``"test"`` for takes 0-4, else ``"train"``, with a stratified ``"val"`` carve."""
        labels = np.where(self.takes < TEST_TAKES, "test", "train").astype("<U5")
        train_rows = np.flatnonzero(labels == "train")
        labels[carve_validation(self.digits, train_rows, val_fraction, seed)] = "val"
        return labels


@declares_task("multiclass", N_CLASSES)
def load_fsdd(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    url: str | None = None,
    progress: bool | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
    n_mels: int = 32,
    n_frames: int = 32,
) -> MultiModalData:
    """FSDD as one mode ``audio`` of ``(n_frames, n_mels)`` log-mel spectrograms, 10 classes.

    The data set carries the official split (`MultiModalData.predefined_split`); ``seed``
    and ``val_fraction`` carve validation from the training takes.
    """
    folder = fsdd_folder(data_dir, download=download, url=url, progress=progress)
    recordings = read_recordings(folder)
    config = LogMelConfig(sample_rate=SAMPLE_RATE, n_mels=n_mels, n_frames=n_frames)
    clips = fit_length(recordings.waveforms, config.clip_samples)
    spectrograms = log_mel_spectrogram(clips, config)
    columns = spectrogram_columns(config)
    return MultiModalData(
        name=NAME,
        features=pd.DataFrame(spectrograms.reshape(len(recordings), -1), columns=columns),
        target=recordings.digits,
        modes={MODE: columns},
        task="multiclass",
        n_classes=N_CLASSES,
        description="Free Spoken Digit Dataset (Jackson et al.), log-mel, CC BY-SA 4.0.",
        shapes={MODE: config.shape},
        predefined_split=recordings.official_split(val_fraction, seed),
    )


def spectrogram_columns(config: LogMelConfig) -> list[str]:
    """``mel_{t}_{f}``, row-major over ``(T, F)``."""
    return [f"mel_{t}_{f}" for t in range(config.n_frames) for f in range(config.n_mels)]


def fsdd_folder(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    url: str | None = None,
    progress: bool | None = None,
) -> Path:
    """``<data dir>/fsdd``, downloaded first when it holds no recording."""
    root = resolve_data_dir(data_dir)
    folder = root / NAME
    if not any((folder / "recordings").glob("*.wav")):
        manual = manual_instructions(NAME, ["recordings/*.wav"], root, PAGE)
        if not download:
            raise DataError(
                f"{folder / 'recordings'} holds no .wav file and download=False. {manual}"
            )
        source = url or url_from_env(URL, URL_ENV)
        fetch_recordings(source, folder, progress=progress, manual=manual)
    return folder


def read_recordings(folder: str | os.PathLike[str]) -> Recordings:
    """Every ``{digit}_{speaker}_{index}.wav`` of ``folder/recordings`` (verified if listed)."""
    folder = Path(folder)
    paths = sorted((folder / "recordings").glob("*.wav"))
    parsed = [(FILE_PATTERN.fullmatch(p.name), p) for p in paths]
    odd = [p.name for m, p in parsed if m is None]
    if odd:
        raise DataError(
            f"{folder / 'recordings'} holds files not named {{digit}}_{{speaker}}_{{index}}.wav: "
            f"{odd[:3]}; remove or rename them."
        )
    if not paths:
        raise DataError(f"{folder / 'recordings'} holds no .wav file.")
    if (folder / CHECKSUMS).is_file():
        verify_checksums(folder)
    keyed = sorted(
        (int(m["digit"]), m["speaker"], int(m["index"]), p) for m, p in parsed if m is not None
    )
    return Recordings(
        waveforms=[read_wav(p) for *_, p in keyed],
        digits=np.array([k[0] for k in keyed], dtype=np.int64),
        speakers=np.array([k[1] for k in keyed], dtype=str),
        takes=np.array([k[2] for k in keyed], dtype=np.int64),
        files=[k[3].name for k in keyed],
    )


def read_wav(path: Path) -> NDArray[np.float32]:
    """A mono 8 kHz WAV as float32 in [-1, 1]."""
    try:
        rate, data = wavfile.read(path)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path} is not a readable WAV file: {exc}") from exc
    if rate != SAMPLE_RATE or data.ndim != 1:
        raise DataError(
            f"{path}: expected mono audio at {SAMPLE_RATE} Hz, got {rate} Hz with shape "
            f"{data.shape}; resample and downmix it first."
        )
    if data.dtype.kind == "f":
        return data.astype(np.float32)
    if data.dtype == np.uint8:
        return ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    scale = float(np.iinfo(data.dtype).max) + 1.0
    return (data.astype(np.float32) / scale).astype(np.float32)


def verify_checksums(folder: Path) -> None:
    """Every file in ``folder/SHA256SUMS`` matches it, and no other recording is present."""
    listed = parse_checksums(read_text(folder / CHECKSUMS), folder / CHECKSUMS)
    present = {f"recordings/{p.name}" for p in (folder / "recordings").glob("*.wav")}
    missing = sorted(set(listed) - present)
    unlisted = sorted(present - set(listed))
    bad = sorted(
        name for name in set(listed) & present if file_sha256(folder / name) != listed[name]
    )
    if missing or unlisted or bad:
        problems = [
            f"{label} {names[:3]}{' ...' if len(names) > 3 else ''}"
            for label, names in (("missing", missing), ("not listed", unlisted), ("changed", bad))
            if names
        ]
        raise DataError(
            f"{folder} does not match its {CHECKSUMS}: {'; '.join(problems)}. Restore the "
            f"files, or delete {folder} to download the recordings again."
        )


def parse_checksums(text: str, source: str | os.PathLike[str] = CHECKSUMS) -> dict[str, str]:
    """``sha256sum`` output (``<hex>  <path>`` per line) as path -> hex digest.

    A line that is not a 64-digit hex digest and a path is a `DataError` naming ``source``
    and the line; a leading byte order mark is ignored.
    """
    listed = {}
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        if not line.strip():
            continue
        match = CHECKSUM_LINE.fullmatch(line.strip())
        if match is None:
            raise DataError(
                f"{source}, line {number}: expected '<64 hex digits>  <path>' (sha256sum "
                f"output), found {line.strip()[:80]!r}."
            )
        listed[match["name"]] = match["digest"].lower()
    return listed


def listing_fingerprint(digests: Mapping[str, str]) -> str:
    """SHA-256 of ``sha256sum`` output for ``name -> digest`` in C-locale name order."""
    lines = "".join(f"{digests[n]}  {n}\n" for n in sorted(digests, key=lambda n: n.encode()))
    return hashlib.sha256(lines.encode()).hexdigest()


def fetch_recordings(url: str, folder: Path, *, progress: bool | None, manual: str) -> None:
    """Download the archive, verify its recordings as a set, move them into ``folder``.

    Either all recordings verify and appear at once (one directory rename), with a
    ``SHA256SUMS`` beside them, or nothing is kept and a `DataError` says why.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as scratch:
            staged = _download_and_stage(url, Path(scratch), progress=progress, manual=manual)
            target = folder / "recordings"
            if target.is_dir():
                target.rmdir()  # empty: it held no .wav, or we would not be downloading
            os.replace(staged / "recordings", target)
            os.replace(staged / CHECKSUMS, folder / CHECKSUMS)
    except OSError as exc:
        message = f"Cannot write the download into {folder}: {exc}. {manual}".strip()
        raise DataError(message) from exc


def _download_and_stage(url: str, scratch: Path, *, progress: bool | None, manual: str) -> Path:
    archive = download_file(url, scratch / "fsdd.zip", progress=progress, manual=manual)
    try:
        files = extract_zip(archive, scratch / "unpacked")
    except zipfile.BadZipFile as exc:
        raise DataError(f"{url} is not a valid zip archive ({exc}). {manual}".strip()) from exc
    wavs = {
        f.name: f for f in files if f.parent.name == "recordings" and FILE_PATTERN.fullmatch(f.name)
    }
    digests = {name: file_sha256(path) for name, path in wavs.items()}
    found = listing_fingerprint(digests)
    if found != FINGERPRINT:
        raise DataError(
            f"The recordings in {url} ({len(wavs)} files) do not match the pinned FSDD "
            f"fingerprint: got {found}, expected {FINGERPRINT}. Nothing was kept. {manual}".strip()
        )
    staged = scratch / "staged"
    (staged / "recordings").mkdir(parents=True)
    for name, path in wavs.items():
        os.replace(path, staged / "recordings" / name)
    listing = "".join(
        f"{digests[n]}  recordings/{n}\n" for n in sorted(digests, key=lambda n: n.encode())
    )
    (staged / CHECKSUMS).write_text(listing)
    return staged
