"""The ``image_folder`` and ``audio_folder`` kinds: folders of files named by an index."""

from __future__ import annotations

import os
import struct
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from PIL import Image
from pydantic import ValidationError
from torch.utils.data import DataLoader

from emma_plugins.core.errors import DataError, SpecError
from emma_plugins.sources import (
    FolderDataset,
    audio_folder_dataset,
    image_folder_dataset,
    load_dataset,
)
from emma_plugins.sources import folders as folders_module
from emma_plugins.spec import load_spec
from emma_plugins.testing import KindRef, parametrize_with_checks

pytestmark = pytest.mark.usefixtures("clean_plugins")


# -- writing folders ----------------------------------------------------------------------------
def write_png(file: Path, pixels: NDArray[Any]) -> None:
    """``(H, W)`` grey (uint8 or uint16), ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, as PNG."""
    file.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(file, format="PNG")


def write_wav(
    file: Path, values: NDArray[np.float64], rate: int = 8000, width: int = 2, channels: int = 1
) -> None:
    """``values`` in [-1, 1], ``(n,)`` or ``(n, channels)``, as integer PCM of ``width`` bytes."""
    file.parent.mkdir(parents=True, exist_ok=True)
    scaled = np.asarray(values, dtype=np.float64).reshape(-1)
    if width == 1:
        data = np.round(scaled * 127 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        ints = np.round(scaled * (2**23 - 1)).astype("<i4").tobytes()
        data = b"".join(ints[i : i + 3] for i in range(0, len(ints), 4))
    else:
        dtype, top = ("<i2", 2**15 - 1) if width == 2 else ("<i4", 2**31 - 1)
        data = np.round(scaled * top).astype(dtype).tobytes()
    with wave.open(str(file), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(data)


def write_index(folder: Path, rows: list[str], name: str = "index.csv") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(rows) + "\n", encoding="utf-8")


def image_folder(root: Path, n: int = 6, size: tuple[int, int] = (5, 4)) -> list[NDArray[Any]]:
    """``root/cams``: two modes of RGB PNGs (``left``, ``right``), labels, a split column.

    Returns the left images' pixels, row by row.
    """
    folder = root / "cams"
    rng = np.random.default_rng(n)
    rows = ["left,right,label,split"]
    lefts = []
    for i in range(n):
        left = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
        write_png(folder / "L" / f"{i}.png", left)
        write_png(folder / "R" / f"{i}.png", rng.integers(0, 256, size=(*size, 3), dtype=np.uint8))
        rows.append(f"L/{i}.png,R/{i}.png,{'cat' if i % 3 else 'dog'},{('train', 'test')[i % 2]}")
        lefts.append(left)
    write_index(folder, rows)
    return lefts


def images(root: Path, **params: Any) -> Any:
    values: dict[str, Any] = {"path": "cams", "label": "label", "modes": {"left": "left"}}
    return load_dataset("image_folder", data_dir=str(root), **{**values, **params})


def audio_folder(root: Path, lengths: tuple[int, ...] = (40, 64, 100, 64)) -> list[NDArray[Any]]:
    """``root/mics``: one mode of 16-bit mono WAV files of the given lengths, two labels."""
    rows = ["clip,label"]
    clips = []
    for i, length in enumerate(lengths):
        clip = np.sin(np.arange(length) * (0.2 + 0.3 * i)) * 0.5
        write_wav(root / "mics" / f"{i}.wav", clip)
        rows.append(f"{i}.wav,{'hi' if i % 2 else 'lo'}")
        clips.append(clip)
    write_index(root / "mics", rows)
    return clips


def sounds(root: Path, **params: Any) -> Any:
    values: dict[str, Any] = {"path": "mics", "label": "label", "modes": {"clip": "clip"}}
    return load_dataset("audio_folder", data_dir=str(root), samples=64, **{**values, **params})


def refused(call: Callable[[], object]) -> str:
    with pytest.raises(DataError) as caught:
        call()
    return str(caught.value)


# -- image folders --------------------------------------------------------------------------------
def test_an_image_folder_loads_with_shapes_labels_and_split(tmp_path: Path) -> None:
    lefts = image_folder(tmp_path)
    data = images(tmp_path, modes={"left": "left", "right": "right"}, split="split")
    assert data.mode_names == ["left", "right"] and data.mode_shapes == [(3, 5, 4), (3, 5, 4)]
    assert data.modes["left"][:2] == ["left_0", "left_1"] and len(data.modes["left"]) == 60
    assert data.task == "binary" and data.class_names == ("cat", "dog")
    assert data.target.tolist() == [1, 0, 0, 1, 0, 0]
    assert data.predefined_split is not None
    assert data.predefined_split.tolist() == ["train", "test"] * 3
    modes, _ = data.to_tensors()
    assert modes[0].dtype == torch.float32 and tuple(modes[0].shape) == (6, 3, 5, 4)
    expected = torch.from_numpy(np.stack(lefts).transpose(0, 3, 1, 2) / 255.0).float()
    torch.testing.assert_close(modes[0], expected)
    assert float(modes[0].min()) >= 0 and float(modes[0].max()) <= 1


def test_channels_and_size_convert_and_resize(tmp_path: Path) -> None:
    image_folder(tmp_path, n=3, size=(6, 8))
    grey = images(tmp_path, channels=1)
    assert grey.mode_shapes == [(1, 6, 8)]
    small = images(tmp_path, channels=1, size=[3, 4])
    assert small.mode_shapes == [(1, 3, 4)] and small.shapes == {"left": (1, 3, 4)}
    first = (
        Image.open(tmp_path / "cams" / "L" / "0.png").convert("L").resize((4, 3), Image.BILINEAR)
    )
    np.testing.assert_allclose(
        small.mode_arrays()[0][0, 0], np.asarray(first, dtype=np.float32) / 255, atol=1e-6
    )


def test_alpha_is_dropped_and_16_bit_grey_is_scaled(tmp_path: Path) -> None:
    rgba = np.full((2, 2, 4), 200, dtype=np.uint8)
    rgba[..., 3] = 0  # fully transparent: the colour is kept, the alpha dropped
    deep = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    write_png(tmp_path / "f" / "a.png", rgba)
    write_png(tmp_path / "f" / "b.png", deep)
    write_index(tmp_path / "f", ["x,y", "a.png,cat", "b.png,dog"])
    params = {"path": "f", "label": "y", "modes": {"x": "x"}, "data_dir": str(tmp_path)}
    dataset = image_folder_dataset(**params, channels=3)
    colour, _ = dataset[0]
    torch.testing.assert_close(colour["x"], torch.full((3, 2, 2), 200 / 255))
    depth, _ = dataset[1]
    torch.testing.assert_close(depth["x"][0], torch.from_numpy(deep / 65535.0).float())
    assert torch.equal(depth["x"][0], depth["x"][2])


def test_a_floating_point_image_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((2, 2), dtype=np.float32)).save(tmp_path / "f.tif")
    write_png(tmp_path / "g.png", np.zeros((2, 2), dtype=np.uint8))
    write_index(tmp_path, ["x,y", "g.png,a", "f.tif,b"])
    params = {"path": ".", "label": "y", "modes": {"x": "x"}, "data_dir": str(tmp_path)}
    message = refused(lambda: load_dataset("image_folder", params))
    assert "row 2 (line 3), column 'x': " in message
    assert "f.tif is a floating-point image (Pillow mode F)" in message


def test_images_of_another_size_are_refused_unless_size_is_given(tmp_path: Path) -> None:
    image_folder(tmp_path, n=3)
    write_png(tmp_path / "cams" / "L" / "2.png", np.zeros((7, 7, 3), dtype=np.uint8))
    message = refused(lambda: images(tmp_path))
    assert "index.csv, row 3 (line 4), column 'left': " in message
    assert (
        "L/2.png is 7 x 7 pixels (height x width), but the mode's first image is 5 x 4" in message
    )
    assert "set size: [H, W]" in message
    assert images(tmp_path, size=[5, 4]).mode_shapes == [(3, 5, 4)]


def test_without_pillow_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_folder(tmp_path, n=2)
    monkeypatch.setitem(sys.modules, "PIL", None)
    message = refused(lambda: images(tmp_path))
    assert "needs Pillow, which is not installed; install the 'images' extra" in message
    assert 'pip install "emma-plugins[images]"' in message


# -- audio folders --------------------------------------------------------------------------------
def test_wav_files_are_cropped_or_zero_padded_to_samples(tmp_path: Path) -> None:
    clips = audio_folder(tmp_path)
    data = sounds(tmp_path, sample_rate=8000)
    assert data.mode_shapes == [(64,)] and data.class_names == ("hi", "lo")
    values = data.mode_arrays()[0]
    for clip, got in zip(clips, values, strict=True):
        kept = min(64, len(clip))
        np.testing.assert_allclose(got[:kept], clip[:kept], atol=1e-4)
        assert not got[kept:].any()


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_widths_and_channels_mix_down_to_mono(tmp_path: Path, width: int) -> None:
    left = np.linspace(-0.5, 0.5, 32)
    stereo = np.stack([left, 0.25 * np.ones(32)], axis=1)
    write_wav(tmp_path / "w" / "s.wav", stereo, width=width, channels=2)
    write_wav(tmp_path / "w" / "m.wav", left, width=width)
    write_index(tmp_path / "w", ["f,y", "s.wav,a", "m.wav,b"])
    params = {"path": "w", "label": "y", "modes": {"f": "f"}, "data_dir": str(tmp_path)}
    dataset = audio_folder_dataset(**params, samples=32)
    tolerance = 1 / 64 if width == 1 else 1e-4
    np.testing.assert_allclose(dataset[0][0]["f"], (left + 0.25) / 2, atol=tolerance)
    np.testing.assert_allclose(dataset[1][0]["f"], left, atol=tolerance)


def test_a_log_spectrogram_has_frames_by_frequencies(tmp_path: Path) -> None:
    audio_folder(tmp_path)
    data = sounds(tmp_path, features="log_spectrogram", n_fft=16, hop_length=4)
    assert data.mode_shapes == [(17, 9)]  # 1 + 64 // 4 frames, 16 // 2 + 1 frequencies
    clip = torch.from_numpy(sounds(tmp_path).mode_arrays()[0][0])  # decoded, zero-padded
    window = torch.hann_window(16)
    spectrum = torch.stft(clip, 16, 4, window=window, pad_mode="constant", return_complex=True)
    expected = torch.log(spectrum.abs() + 1e-6).T
    torch.testing.assert_close(
        torch.from_numpy(data.mode_arrays()[0][0]), expected, atol=1e-3, rtol=1e-4
    )
    assert sounds(tmp_path, features="log_spectrogram", n_fft=16).mode_shapes == [(17, 9)]
    with pytest.raises(ValidationError, match=r"n_fft \(128\) exceeds samples \(64\)"):
        sounds(tmp_path, features="log_spectrogram", n_fft=128)


def test_another_sample_rate_is_refused_naming_the_file(tmp_path: Path) -> None:
    audio_folder(tmp_path)
    write_wav(tmp_path / "mics" / "2.wav", np.zeros(64), rate=44100)
    message = refused(lambda: sounds(tmp_path, sample_rate=8000))
    assert "index.csv, row 3 (line 4), column 'clip': " in message
    assert "2.wav is sampled at 44100 Hz, not 8000 Hz (sample_rate)" in message


def test_files_that_are_not_pcm_wav_are_refused(tmp_path: Path) -> None:
    audio_folder(tmp_path)
    floats = np.zeros(8, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)  # format 3: IEEE float
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(floats)) + floats
    (tmp_path / "mics" / "1.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    message = refused(lambda: sounds(tmp_path))
    assert "row 2 (line 3), column 'clip': " in message and "1.wav is not a PCM WAV file" in message
    write_png(tmp_path / "mics" / "1.wav", np.zeros((2, 2, 3), dtype=np.uint8))
    assert "1.wav is not a PCM WAV file (file does not start with RIFF id)" in refused(
        lambda: sounds(tmp_path)
    )
    (tmp_path / "mics" / "1.wav").write_bytes(b"RIFF")
    assert "1.wav is not a PCM WAV file (it ends early)" in refused(lambda: sounds(tmp_path))


# -- the lazy data set ----------------------------------------------------------------------------
def test_the_folder_dataset_decodes_only_when_a_sample_is_asked_for(tmp_path: Path) -> None:
    image_folder(tmp_path, n=4)
    dataset = image_folder_dataset("cams", "label", {"left": "left"}, data_dir=str(tmp_path))
    assert isinstance(dataset, FolderDataset) and len(dataset) == 4
    assert dataset.class_names == ("cat", "dog") and dataset.mode_shapes == {"left": (3, 5, 4)}
    assert dataset.split_labels is None and dataset.targets.tolist() == [1, 0, 0, 1]
    (tmp_path / "cams" / "L" / "3.png").write_bytes(b"damaged after the index was read")
    sample, label = dataset[0]
    assert label == 1 and tuple(sample["left"].shape) == (3, 5, 4)
    message = refused(lambda: dataset[3])
    assert "index.csv, row 4 (line 5), column 'left': " in message
    assert "L/3.png is not an image Pillow can read" in message
    with pytest.raises(IndexError):
        dataset[4]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_data_loader_batches_the_folder_dataset(tmp_path: Path, workers: int) -> None:
    image_folder(tmp_path, n=4)
    modes = {"left": "left", "right": "right"}
    dataset = image_folder_dataset("cams", "label", modes, split="split", data_dir=str(tmp_path))
    assert dataset.split_labels is not None and dataset.split_labels.tolist()[:2] == [
        "train",
        "test",
    ]
    loader = DataLoader(dataset, batch_size=3, num_workers=workers)
    batches = list(loader)
    assert [len(labels) for _, labels in batches] == [3, 1]
    inputs, labels = batches[0]
    assert tuple(inputs["right"].shape) == (3, 3, 5, 4) and labels.tolist() == [1, 0, 0]
    data = dataset.to_data()
    tensors, _ = data.to_tensors()
    torch.testing.assert_close(inputs["left"], tensors[0][:3])


# -- what is refused ------------------------------------------------------------------------------
def test_a_missing_folder_index_or_column_is_refused(tmp_path: Path) -> None:
    assert "does not exist or is not a folder" in refused(lambda: images(tmp_path))
    image_folder(tmp_path, n=2)
    message = refused(lambda: images(tmp_path, index="labels.csv"))
    assert (
        "cams/labels.csv does not exist: the folder" in message and "needs an index file" in message
    )
    message = refused(lambda: images(tmp_path, modes={"left": "lefty"}))
    assert "index.csv: the header has no column 'lefty' (named by mode 'left')" in message
    assert "Did you mean 'left'" in message
    assert "no column 'class' (the label column)" in refused(
        lambda: images(tmp_path, label="class")
    )
    message = refused(lambda: images(tmp_path, modes={"left": "label"}))
    assert "selects 'label', the label column, as a feature" in message


def test_a_missing_or_unnamed_file_is_named_by_row_and_column(tmp_path: Path) -> None:
    image_folder(tmp_path, n=3)
    (tmp_path / "cams" / "L" / "1.png").unlink()
    (tmp_path / "cams" / "L" / "2.png").unlink()
    message = refused(lambda: images(tmp_path))
    assert "index.csv, row 2 (line 3), column 'left': " in message
    assert (
        "L/1.png does not exist or is not a file (1 more of the mode's files are missing)"
        in message
    )
    write_index(tmp_path / "cams", ["left,label", "L/0.png,cat", ",dog"])
    message = refused(lambda: images(tmp_path))
    assert "row 2 (line 3), column 'left': the file name is missing" in message


def test_an_undecodable_image_is_refused_naming_the_file(tmp_path: Path) -> None:
    image_folder(tmp_path, n=3)
    (tmp_path / "cams" / "L" / "0.png").write_text("not an image")
    message = refused(lambda: images(tmp_path))
    assert "index.csv, row 1 (line 2), column 'left': " in message
    assert "L/0.png is not an image Pillow can read (UnidentifiedImageError" in message
    write_wav(tmp_path / "cams" / "L" / "0.png", np.zeros(16))
    assert "L/0.png is not an image Pillow can read" in refused(lambda: images(tmp_path))


def test_a_single_class_and_a_binary_task_with_three_classes_are_refused(tmp_path: Path) -> None:
    image_folder(tmp_path, n=2)
    write_index(tmp_path / "cams", ["left,label", "L/0.png,cat", "L/1.png,cat"])
    message = refused(lambda: images(tmp_path))
    assert "index.csv, column 'label': every one of the 2 rows has the label 'cat'" in message
    write_index(tmp_path / "cams", ["left,label", "L/0.png,a", "L/1.png,b", "L/0.png,c"])
    assert images(tmp_path).task == "multiclass"
    assert "task binary needs two classes, found 3 (a, b, c)" in refused(
        lambda: images(tmp_path, task="binary")
    )
    write_index(tmp_path / "cams", ["left,label,split", "L/0.png,a,train", "L/1.png,b,later"])
    assert "row 2 (line 3): 'later' is not a split" in refused(
        lambda: images(tmp_path, split="split")
    )


@pytest.mark.parametrize(
    ("cell", "match"),
    [
        ("../outside.png", "leaves the folder"),
        ("L/../../outside.png", "leaves the folder"),
        ("/etc/passwd", "is an absolute path"),
        ("link.png", "outside the folder"),
    ],
)
def test_a_path_leaving_the_folder_is_refused(tmp_path: Path, cell: str, match: str) -> None:
    image_folder(tmp_path, n=2)
    write_png(tmp_path / "outside.png", np.zeros((5, 4, 3), dtype=np.uint8))
    os.symlink(tmp_path / "outside.png", tmp_path / "cams" / "link.png")
    write_index(tmp_path / "cams", ["left,label", "L/0.png,cat", f"{cell},dog"])
    message = refused(lambda: images(tmp_path))
    assert "row 2 (line 3), column 'left': " in message and match in message


def test_folder_and_index_paths_stay_inside_the_data_directory(tmp_path: Path) -> None:
    image_folder(tmp_path, n=2)
    assert "leaves the data directory" in refused(lambda: images(tmp_path, path="../cams"))
    assert "leaves the data directory" in refused(lambda: images(tmp_path, index="../x.csv"))
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("path: cams", "path: ../cams"))
    with pytest.raises(SpecError, match=r"data\.dataset\.path.*leaves the data directory"):
        load_spec(spec)


SPEC = """\
spec_version: 1
modes:
  - {name: left, shape: [1, 5, 4], estimator: {kind: dae, hidden: 4}}
  - {name: right, shape: [1, 5, 4], estimator: {kind: dae, hidden: 4}}
network: {kind: mlp, hidden: [8]}
out_features: 1
data:
  dataset:
    kind: image_folder
    path: cams
    label: label
    modes: {left: left, right: right}
    split: split
    channels: 1
"""


def test_a_spec_names_the_folder_and_its_modes_fit(tmp_path: Path) -> None:
    image_folder(tmp_path)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(SPEC)
    spec = load_spec(spec_file)
    assert spec.data is not None
    data = load_dataset(spec.data.dataset.kind, spec.data.dataset.params(), data_dir=str(tmp_path))
    modes, _ = data.to_tensors(spec.mode_names)
    assert [tuple(m.shape[1:]) for m in modes] == list(spec.mode_shapes)


# -- the shipped samples and the conformance kit ----------------------------------------------
def test_the_shipped_sample_folders_load() -> None:
    pictures = load_dataset("image_folder", folders_module.SAMPLE_IMAGE_PARAMS)
    assert pictures.mode_shapes == [(3, 4, 4), (3, 4, 4)] and len(pictures) == 8
    assert pictures.class_names == ("bright", "dark")
    clips = load_dataset("audio_folder", folders_module.SAMPLE_AUDIO_PARAMS)
    assert clips.mode_shapes == [(9, 9)] and clips.class_names == ("high", "low")


@parametrize_with_checks(family="dataset", kinds=["image_folder", "audio_folder"])
def test_the_folder_kinds_pass_the_conformance_kit(kind: KindRef, check: Any) -> None:
    check(kind)
