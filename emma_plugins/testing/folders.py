"""A generated image folder (the ``image_folder`` kind's layout), for tests and benchmarks of
folder data sets and streaming; needs Pillow (the ``images`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_image_folder(root: Path, n: int, size: int = 16, seed: int = 0) -> Path:
    """``n`` samples of two grey-level views (``left/``, ``right/``) whose brightness
    pattern depends on the class, plus ``index.csv``; returns the folder."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for view in ("left", "right"):
        (root / view).mkdir(parents=True, exist_ok=True)
    lines = ["left,right,label"]
    ramp = np.linspace(0, 1, size)[None, :]
    for i in range(n):
        label = int(rng.integers(2))
        for view in ("left", "right"):
            base = ramp if label else ramp.T
            pixels = np.clip(base * 200 + rng.normal(0, 25, (size, size)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / view / f"{i}.png")
        lines.append(f"left/{i}.png,right/{i}.png,{'bright' if label else 'dark'}")
    (root / "index.csv").write_text("\n".join(lines) + "\n")
    return root


__all__ = ["write_image_folder"]
