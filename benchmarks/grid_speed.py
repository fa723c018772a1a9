"""Time of the 125-configuration grid (thesis settings) against the 45-minute target.

Trains ``--configs N`` configurations of the thesis grid (all 125 by default) on the
selection seed with ``--workers`` processes (default 2), then one rerun seed of the top 5
(base, without and five model-with), and prints the time per configuration and the
extrapolated totals: the selection of all 125, and the reruns over 10 seeds. A subset is
extrapolated linearly, which slightly overstates the total (the per-worker start-up and
the shared stage 1 are paid once, not per configuration).

Data: HTRU2 when ``EMMA_DATA_DIR`` holds it, else scikit-learn's breast-cancer data.
Run ``python benchmarks/grid_speed.py --configs 8`` (``--quick`` for a smoke run).
Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emma_lab.grid.search import GridExecutor, GridJob, grid_points
from emma_lab.spec import GridSpec
from experiment_speed import experiment_of, htru2_or_breast_cancer

TARGET_MINUTES = 45.0
THESIS = GridSpec()


def run(configs: int, workers: int, epochs: int, rows: int | None, rerun: bool) -> dict[str, float]:
    data, spec = htru2_or_breast_cancer(dae_epochs=epochs)
    if rows is not None:
        data = data.subset(list(range(min(rows, len(data)))))
    every = grid_points(THESIS.rho, THESIS.lambda_e, THESIS.lambda_c)
    step = max(len(every) // configs, 1)
    points = every[::step][:configs]  # spread over the grid: costs vary with the settings
    spec = experiment_of(spec, epochs).spec
    job = GridJob(spec.to_dict(), data)
    print(
        f"{data.name}: {len(data)} rows, {epochs} epochs, "
        f"batch {spec.resolved_training.batch_size}, "
        f"{len(points)} of {len(every)} configurations, {workers} worker(s), "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    records: list[dict[str, Any]] = []
    with GridExecutor(job, workers) as executor:
        start = time.perf_counter()
        executor.run([("select", p, THESIS.selection_seed) for p in points], records.append)
        select_s = time.perf_counter() - start
        per_config = select_s / len(points)
        total_select = per_config * len(every)
        print(f"selection: {select_s:.1f} s for {len(points)} configurations")
        print(f"time per configuration (wall, {workers} workers): {per_config:.2f} s")
        print(
            f"extrapolated selection of all {len(every)}: {total_select / 60:.1f} min "
            f"(target {TARGET_MINUTES:.0f} min; ratio target/estimate "
            f"{TARGET_MINUTES * 60 / total_select:.2f})"
        )
        # the median leaves out each worker's first configuration, which also paid for the
        # seed's base model and stage 1
        cpu = statistics.median(float(r["cpu_seconds"]) for r in records)
        idle_select = cpu * len(every) / workers
        print(
            f"CPU time per configuration (one worker): {cpu:.2f} s; on {workers} idle cores "
            f"all {len(every)}: {idle_select / 60:.1f} min (ratio target/estimate "
            f"{TARGET_MINUTES * 60 / idle_select:.2f})"
        )
        result = {
            "per_config_s": per_config,
            "selection_total_s": total_select,
            "per_config_cpu_s": cpu,
            "idle_selection_total_s": idle_select,
        }
        if not rerun:
            return result
        top = points[: THESIS.top]
        start = time.perf_counter()
        executor.run([("rerun", seed, top) for seed in range(workers)], records.append)
        batch_s = time.perf_counter() - start  # `workers` seeds side by side
    seeds = len(THESIS.rerun_seeds)
    total_rerun = batch_s * math.ceil(seeds / workers)
    total = total_select + total_rerun
    reruns = [r for r in records if r["kind"] == "rerun"]
    seed_cpu = sum(float(r["cpu_seconds"]) for r in reruns) / len(reruns)
    idle_total = idle_select + seed_cpu * seeds / workers
    print(
        f"rerun of the top {len(top)} (base, without, {len(top)} x with): {batch_s:.1f} s per "
        f"{workers} seed(s) side by side; {seeds} seeds: {total_rerun / 60:.1f} min"
    )
    print(
        f"extrapolated grid + reruns: {total / 60:.1f} min "
        f"(ratio target/estimate {TARGET_MINUTES * 60 / total:.2f})"
    )
    print(
        f"CPU time per rerun seed (one worker): {seed_cpu:.1f} s; on {workers} idle cores "
        f"grid + reruns: {idle_total / 60:.1f} min (ratio target/estimate "
        f"{TARGET_MINUTES * 60 / idle_total:.2f})"
    )
    return result | {"rerun_total_s": total_rerun, "total_s": total, "idle_total_s": idle_total}


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--configs", type=int, default=125, help="configurations to time")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-rerun", action="store_true", help="time the selection only")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        return run(configs=2, workers=1, epochs=1, rows=200, rerun=True)
    return run(args.configs, args.workers, epochs=30, rows=None, rerun=not args.no_rerun)


if __name__ == "__main__":
    main()
