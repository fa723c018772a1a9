"""Write the tiny sample folders of the ``image_folder`` and ``audio_folder`` kinds.

They are the kinds' conformance parameters (`emma_plugins.sources.folders`), shipped as
package data: ``images/`` holds 8 rows of two 4 x 4 RGB BMP images (modes ``left`` and
``right``), labels ``dark`` / ``bright`` and a split column; ``audio/`` holds 8 mono
16-bit WAV files of 64 samples at 8 kHz (mode ``clip``), labels ``low`` / ``high`` (a
500 Hz or a 2 kHz tone). The content is deterministic. Run from anywhere, with Pillow::

    python emma_plugins/sources/samples/make_folders.py
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
ROWS = 8
SPLITS = ("train", "train", "train", "train", "val", "val", "test", "test")


def write_images(folder: Path) -> None:
    rng = np.random.default_rng(0)
    lines = ["left,right,label,split"]
    for row in range(ROWS):
        label = "bright" if row % 2 else "dark"
        base = 180 if label == "bright" else 60
        for mode in ("left", "right"):
            pixels = np.clip(base + rng.integers(-40, 41, size=(4, 4, 3)), 0, 255)
            (folder / mode).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels.astype(np.uint8), "RGB").save(folder / mode / f"{row}.bmp")
        lines.append(f"left/{row}.bmp,right/{row}.bmp,{label},{SPLITS[row]}")
    (folder / "index.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_audio(folder: Path, rate: int = 8000, samples: int = 64) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["clip,label"]
    for row in range(ROWS):
        label = "high" if row % 2 else "low"
        frequency = 2000.0 if label == "high" else 500.0
        t = np.arange(samples) / rate
        tone = (0.3 + 0.05 * row) * np.sin(2 * np.pi * frequency * t + row)
        with wave.open(str(folder / f"{row}.wav"), "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(rate)
            writer.writeframes((tone * 32767).astype("<i2").tobytes())
        lines.append(f"{row}.wav,{label}")
    (folder / "index.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_images(HERE / "images")
    write_audio(HERE / "audio")
