"""Generated stand-ins for FSDD recordings: a tone whose pitch encodes the digit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import wavfile

RATE = 8000


def tone_hz(digit: int) -> float:
    """Each digit its own pitch, 400-2650 Hz, well inside the 4 kHz band."""
    return 400.0 + 250.0 * digit


def tone(digit: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = 0.5 * np.sin(2 * np.pi * tone_hz(digit) * t) + 0.01 * rng.normal(size=t.shape)
    return (np.clip(wave, -1, 1) * 32767).astype(np.int16)


def write_recordings(
    folder: Path, speakers: tuple[str, ...] = ("ann", "bob"), takes: int = 10, seed: int = 0
) -> list[Path]:
    """``folder/recordings/{digit}_{speaker}_{take}.wav`` for every digit, 0.2-1.6 s long."""
    rng = np.random.default_rng(seed)
    out = folder / "recordings"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for digit in range(10):
        for speaker in speakers:
            for take in range(takes):
                path = out / f"{digit}_{speaker}_{take}.wav"
                wavfile.write(path, RATE, tone(digit, rng.uniform(0.2, 1.6), rng))
                paths.append(path)
    return paths
