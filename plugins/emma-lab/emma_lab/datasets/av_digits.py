"""Audio-visual digits: each FSDD recording paired with a handwritten image of its digit.

Two modes of one sample: ``image`` (scikit-learn's 8x8 digits, shape ``(1, 8, 8)``, pixel
values 0-16) and ``audio`` (FSDD log-mel, ``(T, F)``). The split is part of the data set
(`MultiModalData.predefined_split`): FSDD's official split decides the test recordings,
validation is carved from the training takes (stratified, seeded), and each digit's
images are divided into disjoint train, validation and test pools in proportion to the
recordings, so no image appears in two splits. Within a split and digit, recordings take
the pool's images in a seeded order, each image used as evenly as the counts allow.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emma_lab.datasets.fsdd import N_CLASSES, load_fsdd
from emma_plugins.core.errors import DataError
from emma_plugins.sources.container import SPLIT_NAMES, MultiModalData, declares_task

NAME = "av_digits"
IMAGE_SHAPE = (1, 8, 8)
IMAGE_COLUMNS = [f"img_{k}" for k in range(64)]
#: Offsets of the seed streams, so pairing and the validation carve draw independently.
PAIRING_STREAM = 1


def load_digit_images() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """scikit-learn's 1,797 handwritten digits: pixels ``(N, 64)`` (0-16) and labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


@declares_task("multiclass", N_CLASSES)
def load_av_digits(
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
    """One row per FSDD recording: modes ``image`` ``(1, 8, 8)`` and ``audio`` ``(T, F)``.

    ``seed`` draws the validation carve and the pairing; the test recordings are FSDD's
    official ones whatever the seed.
    """
    audio = load_fsdd(
        data_dir,
        download=download,
        url=url,
        progress=progress,
        seed=seed,
        val_fraction=val_fraction,
        n_mels=n_mels,
        n_frames=n_frames,
    )
    assert audio.predefined_split is not None and audio.shapes is not None
    pixels, image_labels = load_digit_images()
    chosen = pair_images(audio.target, audio.predefined_split, image_labels, seed + PAIRING_STREAM)
    images = pd.DataFrame(pixels[chosen], columns=IMAGE_COLUMNS)
    return MultiModalData(
        name=NAME,
        features=pd.concat([images, audio.features], axis=1),
        target=audio.target,
        modes={"image": list(IMAGE_COLUMNS), "audio": audio.modes["audio"]},
        task="multiclass",
        n_classes=audio.n_classes,
        description=(
            "FSDD recordings (CC BY-SA 4.0) paired with scikit-learn's 8x8 digits by label; "
            f"pairing seed {seed}."
        ),
        shapes={"image": IMAGE_SHAPE, "audio": audio.shapes["audio"]},
        predefined_split=audio.predefined_split,
    )


def pair_images(
    labels: NDArray[np.int64],
    split_labels: NDArray[np.str_],
    image_labels: NDArray[np.int64],
    seed: int,
) -> NDArray[np.int64]:
    """The image index for each recording: same digit, and an image pool of its own split.

    Each digit's images are shuffled and cut into train/val/test pools sized in proportion
    to that digit's recordings in each split (largest remainder, at least one image for a
    split that has recordings). Recording ``k`` of a shuffled split-and-digit group takes
    pool image ``k mod len(pool)``.
    """
    rng = np.random.default_rng(seed)
    chosen = np.full(len(labels), -1, dtype=np.int64)
    for digit in np.unique(labels):
        images = rng.permutation(np.flatnonzero(image_labels == digit))
        groups = [np.flatnonzero((labels == digit) & (split_labels == s)) for s in SPLIT_NAMES]
        sizes = _pool_sizes([len(g) for g in groups], len(images), int(digit))
        bounds = np.cumsum([0, *sizes])
        for group, start, stop in zip(groups, bounds[:-1], bounds[1:], strict=True):
            if len(group):
                pool = images[start:stop]
                chosen[rng.permutation(group)] = pool[np.arange(len(group)) % len(pool)]
    return chosen


def _pool_sizes(counts: list[int], n_images: int, digit: int) -> list[int]:
    """Images per split in proportion to ``counts``, at least one where a count is positive."""
    needed = sum(c > 0 for c in counts)
    if n_images < needed:
        raise DataError(
            f"digit {digit} has {n_images} image(s) for recordings in {needed} splits; "
            "each split needs images of its own."
        )
    total = sum(counts)
    raw = [c * n_images / total for c in counts]
    sizes = [max(int(r), 1) if c > 0 else 0 for r, c in zip(raw, counts, strict=True)]
    # Largest remainder for what is left (or take back from the largest pools if over).
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - int(raw[i])), i))
    while sum(sizes) < n_images:
        for i in order:
            if counts[i] > 0 and sum(sizes) < n_images:
                sizes[i] += 1
    while sum(sizes) > n_images:
        sizes[int(np.argmax(sizes))] -= 1
    return sizes
