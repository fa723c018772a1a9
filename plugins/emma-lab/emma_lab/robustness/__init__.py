"""The robustness benchmark: is EMMA better than what one would pick instead?

Every method (early fusion, noise augmentation, EMMA's variants and the peers) trains
and is tested on the same splits, seeds and corruptions; the best peer is chosen on
validation data; EMMA is compared with it per condition, paired over seeds.

* `suite`: bench files (one per data set) and where they are found;
* `methods`: how each method is built and trained on one seed;
* `protocol`: the test conditions (noise sweeps, out of distribution, missing modes,
  several noisy modes);
* `metrics`: task metric, calibration, corruption and error detection, curve areas;
* `selection`: the best peer on validation, the paired verdicts;
* `run`, `runner`: one data set's benchmark, and the whole suite written to a folder;
* `report`: tables, curves, ``report.md`` and ``results.json``.
"""

from emma_lab.robustness.run import BenchResult, load_bench_data, run_benchmark, run_seed
from emma_lab.robustness.runner import run_named, run_suite
from emma_lab.robustness.suite import (
    DEFAULT_DATASETS,
    BenchSpec,
    available_benches,
    load_bench,
    parse_bench,
    resolve_benches,
)

__all__ = [
    "DEFAULT_DATASETS",
    "BenchResult",
    "BenchSpec",
    "available_benches",
    "load_bench",
    "load_bench_data",
    "parse_bench",
    "resolve_benches",
    "run_benchmark",
    "run_named",
    "run_seed",
    "run_suite",
]
