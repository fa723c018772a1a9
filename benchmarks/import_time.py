"""Import cost of ``emma_plugins`` on top of torch, printed in seconds and as a ratio.

Each run is a fresh interpreter that imports torch, then times ``import emma_plugins``
alone; a second kind of run times ``import torch`` alone, for scale. The kinds alternate,
and the script prints the median of ``--repeats`` runs of each (default 7; ``--quick``
runs 2), the packages outside torch's own imports that cost the most (from
``-X importtime``), and whether any heavy module was imported. Target: under 0.2 s on top
of torch. Not a test: nothing here asserts a speed.

``import torch`` leaves a full garbage collection pending (its own objects, about 0.1 s),
which whatever allocates next pays: ``import emma_plugins``, or any other import. The
headline numbers charge it to torch (``gc.collect()`` right after ``import torch``, inside
torch's time); the line "as a user sees it" times ``import emma_plugins`` with it included.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections import Counter

#: Modules that ``import emma_plugins`` must not pull in (the library imports them lazily).
HEAVY = ("pandas", "matplotlib", "scipy", "sklearn", "emma_lab")

_TIME_TORCH = (
    "import gc, time; t = time.perf_counter(); import torch; gc.collect(); "
    "print(time.perf_counter() - t)"
)
_TIME_EMMA = (
    "import gc, sys, time; import torch; {collect}t = time.perf_counter(); import emma_plugins; "
    "print(time.perf_counter() - t); print(','.join(sorted(sys.modules)))"
)


def _python(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, *flags, "-c", code], capture_output=True, text=True, check=True, env=env
    )


def _importtime(code: str) -> dict[str, int]:
    """Self time in microseconds of every module that ``code`` imports."""
    result: dict[str, int] = {}
    for line in _python(code, "-X", "importtime").stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        result[name.strip()] = int(self_us)
    return result


def top_packages(n: int = 10) -> list[tuple[str, float]]:
    """The top-level packages, beyond torch's own imports, that cost the most (ms)."""
    torch_only = _importtime("import torch")
    both = _importtime("import gc, torch; gc.collect(); import emma_plugins")
    extra: Counter[str] = Counter()
    for name, self_us in both.items():
        if name not in torch_only:
            extra[name.split(".")[0]] += self_us
    return [(name, us / 1000) for name, us in extra.most_common(n)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="two runs of each, seconds long")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats

    _python("import torch; import emma_plugins")  # warm the file system cache
    torch_s: list[float] = []
    emma_s: list[float] = []
    user_s: list[float] = []
    modules: set[str] = set()
    for _ in range(repeats):
        torch_s.append(float(_python(_TIME_TORCH).stdout.split()[0]))
        lines = _python(_TIME_EMMA.format(collect="gc.collect(); ")).stdout.split()
        emma_s.append(float(lines[0]))
        modules = set(lines[1].split(","))
        user_s.append(float(_python(_TIME_EMMA.format(collect="")).stdout.split()[0]))

    torch_median = statistics.median(torch_s)
    emma_median = statistics.median(emma_s)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"import torch:                   {torch_median:.3f} s (median of {repeats})")
    print(f"import emma_plugins over torch: {emma_median:.3f} s (median of {repeats})")
    print(f"ratio emma_plugins / torch:     {emma_median / torch_median:.3f}")
    print(f"as a user sees it (with torch's pending collection): {statistics.median(user_s):.3f} s")
    print("costliest packages beyond torch (self time, one run):")
    for name, ms in top_packages():
        print(f"  {ms:8.1f} ms  {name}")
    loaded = [name for name in HEAVY if name in modules]
    print(f"heavy modules imported: {', '.join(loaded) if loaded else 'none'}")


if __name__ == "__main__":
    main()
