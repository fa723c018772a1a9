"""Audio-visual digits: pairs share a digit, images never cross splits, shapes are kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _fsdd_samples import write_recordings
from emma_lab.datasets import load_av_digits
from emma_lab.datasets.av_digits import load_digit_images, pair_images
from shared_data import shared_data_dir

from emma_plugins.core.errors import DataError
from emma_plugins.sources import DataWarning, split

SPLITS = ("train", "val", "test")


def assert_pairing_is_clean(
    chosen: np.ndarray, labels: np.ndarray, split_labels: np.ndarray, image_labels: np.ndarray
) -> None:
    assert (chosen >= 0).all()
    assert np.array_equal(image_labels[chosen], labels)  # same digit
    used = [set(chosen[split_labels == s].tolist()) for s in SPLITS]
    assert not (used[0] & used[1] or used[0] & used[2] or used[1] & used[2])


def test_pairing_matches_digits_and_keeps_images_apart() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    split_labels = rng.choice(np.array(SPLITS), size=len(labels), p=[0.6, 0.2, 0.2])
    image_labels = np.repeat(np.arange(3), 12)
    chosen = pair_images(labels, split_labels, image_labels, seed=0)
    assert_pairing_is_clean(chosen, labels, split_labels, image_labels)
    for digit in range(3):  # every image of a digit is used, and as evenly as possible
        for s in SPLITS:
            uses = np.bincount(chosen[(labels == digit) & (split_labels == s)])
            uses = uses[uses > 0]
            assert uses.max() - uses.min() <= 1
        assert len(set(chosen[labels == digit].tolist())) == 12
    assert np.array_equal(chosen, pair_images(labels, split_labels, image_labels, seed=0))
    assert not np.array_equal(chosen, pair_images(labels, split_labels, image_labels, seed=1))


def test_pairing_needs_an_image_per_split() -> None:
    labels = np.array([0, 0, 0])
    with pytest.raises(DataError, match=r"digit 0 has 2 image.*in 3 splits"):
        pair_images(labels, np.array(SPLITS), np.array([0, 0]), seed=0)
    with pytest.raises(DataError, match="digit 0 has 0 image"):
        pair_images(labels, np.array(SPLITS), np.array([1, 1, 1]), seed=0)


def test_load_av_digits_on_generated_audio(tmp_path: Path) -> None:
    write_recordings(tmp_path / "fsdd", takes=10)
    data = load_av_digits(tmp_path, download=False, n_frames=16, n_mels=16)
    assert data.name == "av_digits" and data.mode_names == ["image", "audio"]
    assert data.mode_shapes == [(1, 8, 8), (16, 16)] and len(data) == 200
    pixels, image_labels = load_digit_images()
    image, audio = data.mode_arrays()
    assert image.shape == (200, 1, 8, 8) and audio.shape == (200, 16, 16)
    # Recover each row's image: the pixels are a row of scikit-learn's digits.
    lookup = {row.tobytes(): i for i, row in enumerate(pixels.astype(np.float32))}
    chosen = np.array([lookup[row.reshape(-1).tobytes()] for row in image])
    assert data.predefined_split is not None
    assert_pairing_is_clean(chosen, data.target, data.predefined_split, image_labels)
    with pytest.warns(DataWarning, match="val split has fewer than 5 rows"):  # tiny, flagged
        train, val, test = split(data, seed=3)
    modes, _ = train.to_tensors()
    assert [tuple(m.shape[1:]) for m in modes] == [(1, 8, 8), (16, 16)]
    assert (len(train), len(val), len(test)) == (90, 10, 100)


def test_real_av_digits() -> None:
    root = shared_data_dir("fsdd", "SHA256SUMS", "recordings/0_george_0.wav")
    data = load_av_digits(root, download=False)
    assert len(data) == 3000 and data.mode_shapes == [(1, 8, 8), (32, 32)]
    assert data.predefined_split is not None
    train, val, test = split(data, seed=0)
    assert (len(train), len(val), len(test)) == (2430, 270, 300)
    image = data.features[[f"img_{k}" for k in range(64)]].to_numpy()
    keys = [row.tobytes() for row in image]
    used = [{k for k, s in zip(keys, data.predefined_split, strict=True) if s == p} for p in SPLITS]
    assert not (used[0] & used[1] or used[0] & used[2] or used[1] & used[2])
