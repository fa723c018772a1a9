"""What ``emma bench robustness`` does: every data set's benchmark, written to a folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from emma_lab.robustness.report import write_report
from emma_lab.robustness.run import BenchResult, RemoteRecords, load_bench_data, run_benchmark
from emma_lab.robustness.suite import BenchSpec, resolve_benches
from emma_plugins.rundir import inside
from emma_plugins.sources import MultiModalData

#: Each bench's log of finished seeds, in its folder of the output directory.
SEEDS_LOG = "seeds.jsonl"


def run_suite(
    benches: Sequence[BenchSpec],
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    seeds: int | None = None,
    quick: bool = False,
    progress: bool = True,
    device: str | None = None,
    stack: bool = True,
    resume: bool = False,
    scheduler: str | None = None,
    suite: str = "standard",
) -> tuple[list[BenchResult], dict[str, Path]]:
    """Run each bench (its short version with ``quick``) over ``seeds`` seeds (default:
    the bench's own count) and write tables, curves, ``report.md`` and ``results.json``.

    ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``; default: each bench
    spec's ``training.device``) is where the models train and are scored; ``stack=False``
    trains a seed's EMMA methods one at a time instead of stacked. Every finished seed is
    logged in ``<out_dir>/<bench>/seeds.jsonl``; with ``resume`` the seeds already there
    are not trained again (without it the log starts afresh). ``scheduler``
    (``tcp://host:port`` or ``local:N``) trains the seeds on a Dask cluster whose workers
    load the data themselves (`emma_lab.cluster`). ``suite="unanticipated"`` adds each
    bench's failures nobody trained for (`BenchSpec.with_suite`)."""
    results = []
    for bench in benches:
        chosen = bench.with_device(device).with_suite(suite)
        chosen = chosen.quick_version() if quick else chosen
        max_samples = chosen.quick.max_samples if quick else None
        data = load_bench_data(chosen, data_dir, max_samples=max_samples)
        count = seeds if seeds is not None else chosen.protocol.seeds
        log = inside(out_dir, chosen.name, SEEDS_LOG)
        if not resume:
            log.unlink(missing_ok=True)
        remote = None
        if scheduler is not None:
            remote = _remote_seeds(chosen, data, data_dir, max_samples, scheduler, stack)
        results.append(
            run_benchmark(
                chosen, data, range(count), progress=progress, stack=stack, log=log, remote=remote
            )
        )
    setup: dict[str, Any] = {
        "version": "short (--quick): fewer seeds and epochs, a subset of the rows"
        if quick
        else "full",
        "suite": suite,
        "data sets": [b.name for b in benches],
    }
    return results, write_report(results, out_dir, setup=setup)


def _remote_seeds(
    bench: BenchSpec,
    data: MultiModalData,
    data_dir: str | Path | None,
    max_samples: int | None,
    scheduler: str,
    stack: bool,
) -> RemoteRecords:
    """A bench's seeds trained on a Dask cluster (dask is imported only here)."""
    from emma_lab.cluster import DaskExecutor
    from emma_lab.workloads import BenchWorkload, data_shape

    where = None if data_dir is None else str(Path(data_dir).expanduser().absolute())
    payload = bench.model_dump(mode="json")
    workload = BenchWorkload(payload, where, max_samples, data_shape(data), stack)

    def remote(seeds: list[int], collect: Callable[[int, dict[str, Any]], None]) -> None:
        with DaskExecutor(workload, scheduler) as executor:
            executor.run(
                [("seed", seed) for seed in seeds], lambda record: collect(record["seed"], record)
            )

    return remote


def run_named(
    names: Sequence[str] | None,
    out_dir: str | Path,
    *,
    bench_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> tuple[list[BenchResult], dict[str, Path]]:
    """`run_suite` on data sets named by bench file (default: htru2 and mfeat)."""
    return run_suite(resolve_benches(names, bench_dir), out_dir, **options)
