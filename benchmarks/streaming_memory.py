"""Peak memory of ``emma fit`` on image folders of growing size: streamed against in memory.

With ``training.loader.stream`` the folder is decoded batch by batch, so the peak resident
memory of a fit should not grow with the number of images; read into memory, it grows with
the data. Each fit runs in a fresh interpreter that reports its own peak RSS
(``getrusage``); the script prints both figures per size and the growth between the
smallest and the largest folder.

    python benchmarks/streaming_memory.py                 # 1000 and 4000 images
    python benchmarks/streaming_memory.py --quick         # 200 and 800, seconds
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys
from emma_plugins import parse_spec
from emma_plugins.deploy import fit_model
spec = parse_spec(json.loads(sys.argv[1]))
fit_model(spec, data_dir=sys.argv[2], device="cpu")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def spec(size: int, stream: bool, workers: int) -> dict:
    return {
        "spec_version": 1,
        "modes": [
            {"name": v, "shape": [1, size, size], "estimator": {"kind": "dae", "epochs": 1}}
            for v in ("left", "right")
        ],
        "network": {"kind": "mlp", "hidden": [16]},
        "data": {"dataset": {"kind": "image_folder", "path": "cams", "label": "label",
                             "modes": {"left": "left", "right": "right"}, "channels": 1}},
        "training": {"base_epochs": 1, "epochs": 1, "batch_size": 64,
                     "loader": {"stream": stream, "num_workers": workers}},
    }  # fmt: skip


def peak_mib(folder: Path, size: int, stream: bool, workers: int) -> float:
    """Peak resident memory (MiB) of one fit in a fresh interpreter."""
    payload = json.dumps(spec(size, stream, workers))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, payload, str(folder.parent)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def measure(sizes: list[int], image: int, workers: int) -> dict[str, dict[int, float]]:
    from emma_plugins.testing.folders import write_image_folder

    figures: dict[str, dict[int, float]] = {"streamed": {}, "in memory": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            folder = write_image_folder(Path(tmp) / str(n) / "cams", n, size=image)
            figures["streamed"][n] = peak_mib(folder, image, True, workers)
            figures["in memory"][n] = peak_mib(folder, image, False, 0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--image", type=int, default=32, help="image side in pixels")
    parser.add_argument("--workers", type=int, default=0, help="loader workers when streamed")
    parser.add_argument("--quick", action="store_true", help="200 and 800 images of 16 px")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    sizes, image = ([200, 800], 16) if args.quick else (args.sizes, args.image)
    figures = measure(sizes, image, args.workers)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"peak RSS of emma fit (MiB), {image}x{image} grey images, two views per sample")
    print(f"{'images':>8} {'streamed':>10} {'in memory':>10}")
    for n in sizes:
        print(f"{n:>8} {figures['streamed'][n]:>10.1f} {figures['in memory'][n]:>10.1f}")
    first, last = sizes[0], sizes[-1]
    for name, values in figures.items():
        growth, ratio = values[last] - values[first], values[last] / values[first]
        print(f"{name}: {first} -> {last} images: {growth:+.1f} MiB ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
