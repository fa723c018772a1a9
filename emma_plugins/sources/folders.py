"""``image_folder`` and ``audio_folder``: a folder of image or WAV files, one file per mode.

An index file inside the folder (default ``index.csv``; ``.tsv`` and ``.jsonl`` read the
same way) has one row per sample. For each mode, one column names the sample's file, a
path relative to the folder; one column holds the label; an optional column holds the
split (train / val / test)::

    left,right,label,split
    left/0001.png,right/0001.png,cat,train
    left/0002.png,right/0002.png,dog,test

`FolderDataset` reads the index at once and decodes a file only when its sample is asked
for: it is a `torch.utils.data.Dataset` whose items are ``({mode: tensor}, label)``. The
registered kinds decode every sample through it into a `MultiModalData` (the trainer holds
its data in memory), each mode's values in columns ``<mode>_0``, ``<mode>_1``, ... with the
mode's sample shape in `MultiModalData.shapes`.

* ``image_folder`` decodes images with Pillow (the ``images`` extra) into ``(C, H, W)``
  float32 values in ``[0, 1]``: ``channels`` 1 (greyscale) or 3 (RGB; an alpha channel is
  dropped), the EXIF orientation applied, 16-bit greyscale scaled by 65535. ``size: [H,
  W]`` resizes every image (bilinear, the aspect ratio not kept); without it, no image is
  resized and every image of a mode must have the size of the mode's first image.
* ``audio_folder`` decodes PCM WAV files (8, 16, 24 or 32 bit, any number of channels,
  mixed down to mono) with the standard library into values in ``[-1, 1]``, cropped or
  zero-padded at the end to ``samples``. ``features: waveform`` gives ``(samples,)``;
  ``log_spectrogram`` gives ``(T, F)``: ``log(|STFT| + 1e-6)`` with a Hann window of
  ``n_fft`` samples, hop ``hop_length`` (default ``n_fft // 4``), zero-padded at both
  ends, ``T = 1 + samples // hop_length`` frames and ``F = n_fft // 2 + 1`` frequencies.

The index is read as strictly as the ``table`` kind's file (`emma_plugins.sources.table`):
labels become classes ``0..K-1`` in sorted order with their names kept as
``class_names``, and every `DataError` names the index file, the row (and its line) and
the column, and the sample's file when it is at fault. Refused: a missing folder or index,
a column the index lacks, a missing or empty file name, a path that leaves the folder
(absolute, ``..``, or through a symbolic link), a file that does not exist, one that does
not decode (not an image, not a PCM WAV file, a WAV file of another ``sample_rate``), an
image of another size than its mode's first (without ``size``) and a label with a single
class.
"""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, Protocol

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor
from torch.utils.data import Dataset

from emma_plugins.core.datapaths import check_data_path
from emma_plugins.core.errors import DataError
from emma_plugins.sources.container import MultiModalData
from emma_plugins.sources.paths import DATA_DIR_ENV, data_file, resolve_data_dir
from emma_plugins.sources.table import (
    FORMATS,
    _cells,
    _encode_labels,
    _listing,
    _RowNames,
    _split_labels,
    read_table,
    select_columns,
)

__all__ = [
    "AudioDecoder",
    "AudioFolderParams",
    "Decoder",
    "FolderDataset",
    "FolderParams",
    "ImageDecoder",
    "ImageFolderParams",
    "audio_folder_dataset",
    "image_folder_dataset",
    "load_audio_folder",
    "load_image_folder",
    "read_wav",
]

#: One sample of a `FolderDataset`: each mode's tensor, and the class number.
Sample = tuple[dict[str, Tensor], int]

#: How to install Pillow, for messages.
PILLOW_HINT = 'pip install "emma-plugins[images]"'
#: Pillow modes of greyscale images deeper than 8 bits, scaled by 65535.
_DEEP_GREY = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
#: Added to the STFT magnitude before the logarithm (silence stays finite).
LOG_FLOOR = 1e-6


# -- parameters ------------------------------------------------------------------------------------
class FolderParams(BaseModel):
    """The parameters both folder kinds share."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="The folder, relative to the data directory (EMMA_DATA_DIR); it holds the "
        "index file and the samples' files."
    )
    label: str = Field(min_length=1, description="Header name of the index's label column.")
    modes: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        min_length=1,
        description="Mode name -> header name of the index column holding that mode's file "
        "(a path relative to the folder, never absolute or through '..').",
    )
    index: str = Field(
        "index.csv",
        description="The index file inside the folder: .csv, .tsv or .jsonl, one row per sample.",
    )
    task: Literal["binary", "multiclass"] | None = Field(
        None,
        description="binary or multiclass; default: binary for two distinct labels, "
        "multiclass for more.",
    )
    split: str | None = Field(
        None,
        description="Header name of an index column holding train / val / test per row: the "
        "data set's predefined split; default: a random stratified split drawn downstream.",
    )
    data_dir: str | None = Field(
        None, description="The data directory; default: EMMA_DATA_DIR, else the user cache."
    )


class ImageFolderParams(FolderParams):
    """The parameters of the ``image_folder`` data set kind."""

    size: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] | None = Field(
        None,
        description="[H, W]: resize every image to this size (bilinear, the aspect ratio not "
        "kept); default: no resizing, every image of a mode must have the size of the "
        "mode's first image.",
    )
    channels: Literal[1, 3] = Field(
        3, description="1: greyscale; 3: RGB (an alpha channel is dropped)."
    )


class AudioFolderParams(FolderParams):
    """The parameters of the ``audio_folder`` data set kind."""

    samples: int = Field(
        ge=1,
        description="Samples per file after mixing down to mono: longer files are cropped, "
        "shorter ones zero-padded at the end.",
    )
    sample_rate: int | None = Field(
        None,
        ge=1,
        description="The sample rate (Hz) every file must have; default: any (not checked).",
    )
    features: Literal["waveform", "log_spectrogram"] = Field(
        "waveform",
        description="waveform: (samples,); log_spectrogram: the log-magnitude STFT, "
        "(frames, n_fft // 2 + 1).",
    )
    n_fft: int = Field(
        256, ge=2, description="STFT window length in samples (log_spectrogram only)."
    )
    hop_length: int | None = Field(
        None,
        ge=1,
        description="STFT hop in samples (log_spectrogram only); default: n_fft // 4.",
    )

    @model_validator(mode="after")
    def _window_fits(self) -> AudioFolderParams:
        if self.features == "log_spectrogram" and self.n_fft > self.samples:
            raise ValueError(
                f"n_fft ({self.n_fft}) exceeds samples ({self.samples}); a window longer "
                "than the clip sees mostly padding. Lower n_fft or raise samples."
            )
        return self


# -- decoders --------------------------------------------------------------------------------------
class Decoder(Protocol):
    """Turns one file into one mode's sample; ``where`` (index file, row, column) prefixes
    its messages."""

    def shape(self, first: Path, where: str) -> tuple[int, ...]:
        """The sample shape of a mode whose first file is ``first``."""
        ...

    def __call__(self, file: Path, where: str, shape: tuple[int, ...]) -> Tensor:
        """``file`` as a float32 tensor of ``shape`` (the mode's `shape`)."""
        ...


@dataclass(frozen=True)
class ImageDecoder:
    """Images as float32 ``(channels, H, W)`` in ``[0, 1]``, through Pillow.

    ``size`` ``(H, W)`` resizes every image; ``None`` keeps each image's size, which must
    then be the mode's (its first image's).
    """

    size: tuple[int, int] | None = None
    channels: Literal[1, 3] = 3

    def shape(self, first: Path, where: str) -> tuple[int, ...]:
        if self.size is not None:
            _pillow(where)  # refuse a missing Pillow now, not at the first sample
            return (self.channels, *self.size)
        return tuple(self._pixels(first, where).shape)

    def __call__(self, file: Path, where: str, shape: tuple[int, ...]) -> Tensor:
        pixels = self._pixels(file, where)
        if pixels.shape != shape:
            _, height, width = pixels.shape
            raise DataError(
                f"{where}: {file} is {height} x {width} pixels (height x width), but the "
                f"mode's first image is {shape[1]} x {shape[2]}; set size: [H, W] to resize "
                "every image to one size."
            )
        return torch.from_numpy(pixels)

    def _pixels(self, file: Path, where: str) -> NDArray[np.float32]:
        image_module, image_ops = _pillow(where)
        try:
            with image_module.open(file) as opened:
                image = image_ops.exif_transpose(opened)
                image.load()
                return self._array(image, image_module, file, where)
        except DataError:
            raise
        except Exception as exc:  # Pillow raises many kinds for a file it cannot read
            raise DataError(
                f"{where}: {file} is not an image Pillow can read ({type(exc).__name__}: "
                f"{exc}); the file may be damaged, or of another kind than its name says."
            ) from None

    def _array(self, image: Any, image_module: Any, file: Path, where: str) -> NDArray[np.float32]:
        bilinear = getattr(image_module, "Resampling", image_module).BILINEAR
        if image.mode == "F":
            raise DataError(
                f"{where}: {file} is a floating-point image (Pillow mode F), whose range is "
                "unknown; save it as an 8- or 16-bit image."
            )
        if image.mode in _DEEP_GREY:
            grey = image.convert("F")
            if self.size is not None and grey.size != self.size[::-1]:
                grey = grey.resize(self.size[::-1], bilinear)
            values = np.asarray(grey, dtype=np.float32) / np.float32(65535)
            if values.size and (values.min() < 0 or values.max() > 1):
                raise DataError(
                    f"{where}: {file} holds pixel values beyond 0..65535 (Pillow mode "
                    f"{image.mode}); save it as an 8- or 16-bit image."
                )
            values = np.repeat(values[None], self.channels, axis=0)
        else:
            converted = image.convert("L" if self.channels == 1 else "RGB")
            if self.size is not None and converted.size != self.size[::-1]:
                converted = converted.resize(self.size[::-1], bilinear)
            values = np.asarray(converted, dtype=np.float32) / np.float32(255)
            values = values[None] if self.channels == 1 else values.transpose(2, 0, 1)
        return np.ascontiguousarray(values, dtype=np.float32)


@dataclass(frozen=True)
class AudioDecoder:
    """PCM WAV files as float32, mono, ``samples`` long: the waveform ``(samples,)`` or its
    log-magnitude spectrogram ``(T, F)``."""

    samples: int
    sample_rate: int | None = None
    features: Literal["waveform", "log_spectrogram"] = "waveform"
    n_fft: int = 256
    hop_length: int | None = None

    def shape(self, first: Path, where: str) -> tuple[int, ...]:
        del first, where
        return tuple(self._features(torch.zeros(self.samples)).shape)

    def __call__(self, file: Path, where: str, shape: tuple[int, ...]) -> Tensor:
        mono, rate = read_wav(file, where)
        if self.sample_rate is not None and rate != self.sample_rate:
            raise DataError(
                f"{where}: {file} is sampled at {rate} Hz, not {self.sample_rate} Hz "
                "(sample_rate); resample it, or change sample_rate."
            )
        clip = torch.zeros(self.samples)
        kept = min(self.samples, len(mono))
        clip[:kept] = torch.from_numpy(mono[:kept])
        return self._features(clip)

    def _features(self, clip: Tensor) -> Tensor:
        if self.features == "waveform":
            return clip
        hop = self.hop_length or max(1, self.n_fft // 4)
        spectrum = torch.stft(
            clip,
            n_fft=self.n_fft,
            hop_length=hop,
            window=torch.hann_window(self.n_fft),
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        return torch.log(spectrum.abs() + LOG_FLOOR).T.contiguous()


def read_wav(file: Path, where: str = "") -> tuple[NDArray[np.float32], int]:
    """A PCM WAV file as mono float32 values in ``[-1, 1]`` (channels averaged) and its
    sample rate; a `DataError`, prefixed with ``where``, for anything else."""
    prefix = f"{where}: " if where else ""
    try:
        with wave.open(str(file), "rb") as reader:
            channels, width = reader.getnchannels(), reader.getsampwidth()
            rate = reader.getframerate()
            raw = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, OSError, ValueError, struct.error) as exc:
        reason = str(exc) or ("it ends early" if isinstance(exc, EOFError) else repr(exc))
        raise DataError(
            f"{prefix}{file} is not a PCM WAV file ({reason}); save it as 8-, 16-, 24- or "
            "32-bit integer PCM."
        ) from None
    if width not in (1, 2, 3, 4) or channels < 1:
        raise DataError(
            f"{prefix}{file} has {8 * width}-bit samples; save it as 8-, 16-, 24- or 32-bit "
            "integer PCM."
        )
    frame = width * channels
    data = raw[: len(raw) // frame * frame]
    if not data:
        raise DataError(f"{prefix}{file} holds no samples; drop it from the index.")
    mono = (_pcm(data, width).reshape(-1, channels).mean(axis=1)).astype(np.float32)
    return mono, rate


def _pcm(data: bytes, width: int) -> NDArray[np.float64]:
    """Little-endian integer PCM (unsigned 8-bit, signed 16, 24 and 32-bit) in ``[-1, 1]``."""
    if width == 1:
        return (np.frombuffer(data, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 3:
        triples = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float64) / float(1 << 23)
    dtype = "<i2" if width == 2 else "<i4"
    return np.frombuffer(data, dtype=dtype).astype(np.float64) / float(1 << (8 * width - 1))


def _pillow(where: str) -> tuple[Any, Any]:
    """Pillow's ``Image`` and ``ImageOps``, imported when the first image is decoded."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise DataError(
            f"{where}: decoding images needs Pillow, which is not installed; install the "
            f"'images' extra: {PILLOW_HINT}."
        ) from None
    return Image, ImageOps


# -- the data set ----------------------------------------------------------------------------------
class FolderDataset(Dataset[Sample]):
    """A folder's samples, decoded one at a time: ``dataset[i] == ({mode: tensor}, label)``.

    The index (``<data dir>/<path>/<index>``) is read and checked at once, and every file
    it names must exist; a file is decoded (by ``decoder``) only in ``__getitem__``, so the
    data set suits a `torch.utils.data.DataLoader` with worker processes, whose default
    collation gives ``({mode: (B, *shape)}, labels (B,))``. `to_data` decodes every sample
    into a `MultiModalData`. Use `image_folder_dataset` and `audio_folder_dataset` to make
    one from a kind's parameters.

    Attributes: ``folder`` and ``index_file`` (resolved paths), ``modes`` (mode -> index
    column), ``files`` (mode -> each row's file), ``targets`` (int64, one class per row),
    ``class_names`` (index = class), ``split_labels`` (train / val / test per row, or
    ``None`` without a split column), ``mode_shapes`` (mode -> sample shape).
    """

    def __init__(
        self,
        path: str,
        label: str,
        modes: Mapping[str, str],
        decoder: Decoder,
        *,
        index: str = "index.csv",
        split: str | None = None,
        data_dir: str | None = None,
    ) -> None:
        if not modes:
            raise DataError("a folder data set needs at least one mode: give modes {mode: column}.")
        root = resolve_data_dir(data_dir)
        self.folder = _folder(path, root)
        self.index_file = _index_file(self.folder, path, index, root)
        raw = read_table(self.index_file)
        source = str(self.index_file)
        header = [str(c) for c in raw.columns]
        chosen = select_columns(
            header,
            {mode: [column] for mode, column in modes.items()},
            label=label,
            split=split,
            source=source,
        )
        self.modes = {mode: columns[0] for mode, columns in chosen.items()}
        self.label = label
        text = FORMATS[self.index_file.suffix.lower()] in ("csv", "tsv", "jsonl")
        names = _RowNames(raw.index, text=text)
        self._rows = [names(i) for i in range(len(raw))]
        self.targets, self.class_names = _encode_labels(
            raw[label], names, f"{source}, column {label!r}"
        )
        if len(self.class_names) < 2:
            raise DataError(
                f"{source}, column {label!r}: every one of the {len(self.targets)} rows has the "
                f"label {self.class_names[0]!r}; a classifier needs at least two classes."
            )
        self.split_labels = (
            None
            if split is None
            else _split_labels(raw[split], names, f"{source}, column {split!r}")
        )
        self.files = {
            mode: self._members(mode, _cells(raw[column]).tolist())
            for mode, column in self.modes.items()
        }
        self.decoder = decoder
        self.mode_shapes: dict[str, tuple[int, ...]] = {
            mode: tuple(decoder.shape(files[0], self._where(mode, 0)))
            for mode, files in self.files.items()
        }

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> Sample:
        row = range(len(self))[index]  # an IndexError past the end, as a Dataset should
        sample = {
            mode: self.decoder(files[row], self._where(mode, row), self.mode_shapes[mode])
            for mode, files in self.files.items()
        }
        return sample, int(self.targets[row])

    def to_data(
        self,
        task: Literal["binary", "multiclass"] | None = None,
        *,
        name: str | None = None,
        description: str = "",
    ) -> MultiModalData:
        """Every sample decoded (through ``__getitem__``) into a `MultiModalData`.

        Mode ``m``'s values, flattened in row-major order, are the columns ``m_0``, ``m_1``,
        ...; ``shapes`` keeps each mode's sample shape, ``predefined_split`` the split
        column and ``class_names`` the labels.
        """
        n_classes = len(self.class_names)
        if task == "binary" and n_classes != 2:
            raise DataError(
                f"{self.index_file}, column {self.label!r}: task binary needs two classes, "
                f"found {n_classes} ({_listing(self.class_names)}); set task: multiclass or "
                "drop the other classes."
            )
        columns = {
            mode: [f"{mode}_{j}" for j in range(math.prod(shape))]
            for mode, shape in self.mode_shapes.items()
        }
        values = np.empty((len(self), sum(map(len, columns.values()))), dtype=np.float32)
        for row in range(len(self)):
            sample, _ = self[row]
            values[row] = np.concatenate([sample[mode].numpy().ravel() for mode in columns])
        flat = [column for names in columns.values() for column in names]
        return MultiModalData(
            name=name or self.folder.name,
            features=pd.DataFrame(values, columns=flat),
            target=self.targets,
            modes=columns,
            task=task or ("binary" if n_classes == 2 else "multiclass"),
            n_classes=n_classes,
            description=description,
            shapes=dict(self.mode_shapes),
            predefined_split=self.split_labels,
            class_names=self.class_names,
        )

    def _where(self, mode: str, row: int) -> str:
        return f"{self.index_file}, {self._rows[row]}, column {self.modes[mode]!r}"

    def _members(self, mode: str, cells: Sequence[str]) -> list[Path]:
        """Each row's file of ``mode``, inside the folder and existing."""
        files = [
            _member(self.folder, cell, self._where(mode, row)) for row, cell in enumerate(cells)
        ]
        missing = [row for row, file in enumerate(files) if not file.is_file()]
        if missing:
            more = (
                f" ({len(missing) - 1} more of the mode's files are missing)"
                if len(missing) > 1
                else ""
            )
            raise DataError(
                f"{self._where(mode, missing[0])}: {files[missing[0]]} does not exist or is not "
                f"a file{more}; the index names each file relative to the folder {self.folder}."
            )
        return files


def _folder(path: str, root: Path) -> Path:
    """``root / path`` as an existing folder inside ``root``."""
    try:
        check_data_path(path)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    base = root.expanduser().resolve()
    folder = (base / path).resolve()
    if not folder.is_relative_to(base):
        raise DataError(
            f"data path {path!r} resolves to {folder}, outside the data directory {base}."
        )
    if not folder.is_dir():
        raise DataError(
            f"{folder} does not exist or is not a folder; put the folder there, or point the "
            f"data directory elsewhere (data_dir, or {DATA_DIR_ENV})."
        )
    return folder


def _index_file(folder: Path, path: str, index: str, root: Path) -> Path:
    """The index file, ``folder / index``, which must exist inside the folder."""
    try:
        check_data_path(index)
    except ValueError as exc:
        raise DataError(f"index {index!r}: {exc}") from None
    if not (folder / index).is_file():
        raise DataError(
            f"{folder / index} does not exist: the folder {folder} needs an index file, one "
            "row per sample, with a header naming each mode's file column and the label "
            "column (e.g. 'image,label'); or set index to the name of yours."
        )
    return data_file(str(PurePosixPath(path) / index), root)


def _member(folder: Path, relative: str, where: str) -> Path:
    """``folder / relative`` resolved, refusing a missing name and paths that leave the folder."""
    if not relative:
        raise DataError(f"{where}: the file name is missing; every row names one file per mode.")
    posix, windows = PurePosixPath(relative), PureWindowsPath(relative)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or relative.startswith("~"):
        raise DataError(
            f"{where}: {relative!r} is an absolute path; name the file relative to the folder "
            f"{folder}."
        )
    if ".." in posix.parts or ".." in windows.parts:
        raise DataError(
            f"{where}: {relative!r} leaves the folder {folder} through '..'; the files must "
            "lie inside the folder."
        )
    target = (folder / relative).resolve()
    if not target.is_relative_to(folder):
        raise DataError(
            f"{where}: {relative!r} resolves to {target}, outside the folder {folder} (through "
            "a symbolic link); the files must lie inside the folder."
        )
    return target


# -- the kinds -------------------------------------------------------------------------------------
def image_folder_dataset(
    path: str,
    label: str,
    modes: Mapping[str, str],
    index: str = "index.csv",
    split: str | None = None,
    data_dir: str | None = None,
    size: tuple[int, int] | None = None,
    channels: Literal[1, 3] = 3,
) -> FolderDataset:
    """The lazy `FolderDataset` of an image folder (see `ImageFolderParams`)."""
    size = None if size is None else (int(size[0]), int(size[1]))
    decoder = ImageDecoder(size=size, channels=channels)
    return FolderDataset(path, label, modes, decoder, index=index, split=split, data_dir=data_dir)


def audio_folder_dataset(
    path: str,
    label: str,
    modes: Mapping[str, str],
    samples: int,
    index: str = "index.csv",
    split: str | None = None,
    data_dir: str | None = None,
    sample_rate: int | None = None,
    features: Literal["waveform", "log_spectrogram"] = "waveform",
    n_fft: int = 256,
    hop_length: int | None = None,
) -> FolderDataset:
    """The lazy `FolderDataset` of a folder of WAV files (see `AudioFolderParams`)."""
    decoder = AudioDecoder(samples, sample_rate, features, n_fft, hop_length)
    return FolderDataset(path, label, modes, decoder, index=index, split=split, data_dir=data_dir)


def load_image_folder(
    path: str,
    label: str,
    modes: Mapping[str, str],
    index: str = "index.csv",
    task: Literal["binary", "multiclass"] | None = None,
    split: str | None = None,
    data_dir: str | None = None,
    size: tuple[int, int] | None = None,
    channels: Literal[1, 3] = 3,
) -> MultiModalData:
    """A folder of images, one per mode and sample, decoded into memory.

    Reads ``<data dir>/<path>/<index>`` (see `ImageFolderParams` and docs/data.md, "Folders
    of images or audio").
    """
    dataset = image_folder_dataset(path, label, modes, index, split, data_dir, size, channels)
    return dataset.to_data(task, description=f"image folder {path} (label {label!r})")


def load_audio_folder(
    path: str,
    label: str,
    modes: Mapping[str, str],
    samples: int,
    index: str = "index.csv",
    task: Literal["binary", "multiclass"] | None = None,
    split: str | None = None,
    data_dir: str | None = None,
    sample_rate: int | None = None,
    features: Literal["waveform", "log_spectrogram"] = "waveform",
    n_fft: int = 256,
    hop_length: int | None = None,
) -> MultiModalData:
    """A folder of WAV files, one per mode and sample, decoded into memory.

    Reads ``<data dir>/<path>/<index>`` (see `AudioFolderParams` and docs/data.md, "Folders
    of images or audio").
    """
    dataset = audio_folder_dataset(
        path,
        label,
        modes,
        samples,
        index,
        split,
        data_dir,
        sample_rate,
        features,
        n_fft,
        hop_length,
    )
    return dataset.to_data(task, description=f"audio folder {path} (label {label!r})")


#: The kit's fast parameters (`emma_plugins.testing`): the tiny sample folders shipped with
#: the package, ``emma_plugins/sources/samples/images`` (8 rows, two modes of 4 x 4 RGB
#: BMP images, a split column) and ``.../audio`` (8 rows, one mode of 64-sample 8 kHz WAV
#: files); ``samples/make_folders.py`` wrote them.
SAMPLE_IMAGE_PARAMS = {
    "path": "samples/images",
    "label": "label",
    "modes": {"left": "left", "right": "right"},
    "split": "split",
    "data_dir": str(Path(__file__).parent),
}
SAMPLE_AUDIO_PARAMS = {
    "path": "samples/audio",
    "label": "label",
    "modes": {"clip": "clip"},
    "samples": 64,
    "sample_rate": 8000,
    "features": "log_spectrogram",
    "n_fft": 16,
    "hop_length": 8,
    "data_dir": str(Path(__file__).parent),
}
setattr(load_image_folder, "conformance_params", SAMPLE_IMAGE_PARAMS)  # noqa: B010 - read by the kit
# The lazy forms `emma fit` streams from (training.loader.stream), same parameters but task.
setattr(load_image_folder, "lazy", image_folder_dataset)  # noqa: B010
setattr(load_audio_folder, "lazy", audio_folder_dataset)  # noqa: B010
setattr(load_audio_folder, "conformance_params", SAMPLE_AUDIO_PARAMS)  # noqa: B010
