"""``emma bench robustness``: EMMA against the methods one would pick instead."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emma_lab.commands.scheduler import add_scheduler_option
from emma_lab.robustness.suite import (
    BENCH_DIR_ENV,
    DEFAULT_DATASETS,
    SUITES,
    available_benches,
    resolve_benches,
)
from emma_plugins.commands.arguments import add_device_option, add_stack_option
from emma_plugins.commands.output import add_output_arguments, output_directory
from emma_plugins.rundir import RunLock, check_output_dir


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark EMMA against its peers",
        description="Benchmarks of EMMA against the methods one would use instead.",
    )
    benches = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    robustness = benches.add_parser(
        "robustness",
        help="noise, out-of-distribution and missing modes: EMMA against the best peer",
        description="Train early fusion, noise augmentation, EMMA and its peers on the same "
        "splits, seeds and corruptions; test them under one-mode noise sweeps, "
        "out-of-distribution and missing modes; choose the best peer on validation data and "
        "compare EMMA with it per condition, paired over seeds. Writes tables (CSV and "
        "Markdown), curves, results.json and report.md. The output directory is locked while "
        "the benchmark writes and described by run.json; one that holds another benchmark's "
        "outputs needs --overwrite. Each bench logs its finished seeds in <bench>/seeds.jsonl; "
        "--resume trains only the seeds it lacks. "
        "Every method trains and is scored on --device (default: each bench spec's "
        "training.device).",
    )
    robustness.add_argument(
        "--datasets",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"data sets (bench file names or paths; default: {' '.join(DEFAULT_DATASETS)})",
    )
    robustness.add_argument(
        "--seeds",
        type=int,
        default=None,
        metavar="N",
        help="seeds (default: each bench's, 5)",
    )
    robustness.add_argument(
        "--quick",
        action="store_true",
        help="the short version: 2 seeds, 3 epochs, a stratified subset of the rows",
    )
    robustness.add_argument(
        "--suite",
        choices=SUITES,
        default="standard",
        help="standard: Gaussian noise sweeps, out of distribution, missing modes; "
        "unanticipated: also each bench's failures nobody trained for (stuck, drift, gain, "
        "clip, quantize, impulse, ...) at several severities, on one mode and on several at "
        "once, with mean ranks and the recommended configuration",
    )
    robustness.add_argument("--out", type=Path, default=None, help="output directory")
    robustness.add_argument(
        "--bench-dir",
        default=None,
        help=f"folder of bench files (default: ${BENCH_DIR_ENV}, else the installed ones)",
    )
    robustness.add_argument(
        "--data-dir", default=None, help="data directory (default: $EMMA_DATA_DIR, else the cache)"
    )
    add_output_arguments(robustness, resume="train only the seeds its seeds.jsonl logs lack")
    add_device_option(robustness)
    add_stack_option(robustness)
    add_scheduler_option(robustness, "seeds", "the report and each bench's seeds.jsonl")
    robustness.add_argument("--list", action="store_true", help="list the bench files and exit")
    robustness.add_argument("--no-progress", action="store_true", help="hide progress bars")
    robustness.set_defaults(handler=run)
    report = benches.add_parser(
        "report",
        help="write report.md and the tables again from DIR/results.json (no training)",
        description="Read the results.json a benchmark wrote and write its report, tables "
        "and curves again, e.g. after a change to the report.",
    )
    report.add_argument("dir", type=Path, help="the benchmark's output directory")
    report.set_defaults(handler=rewrite_report)


def rewrite_report(args: argparse.Namespace) -> int:
    from emma_lab.robustness.report import read_results, write_report

    source = args.dir / "results.json"
    if not source.is_file():
        print(
            f"error: {source} not found; run `emma bench robustness --out DIR` first.",
            file=sys.stderr,
        )
        return 2
    try:
        results, setup = read_results(source)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        print(
            f"error: {source}: not a results file written by `emma bench robustness` ({reason}).",
            file=sys.stderr,
        )
        return 2
    with RunLock(
        check_output_dir(args.dir)
    ):  # not while a benchmark writes into the same directory
        paths = write_report(results, args.dir, setup=setup)
    print(f"report:  {paths['report']}")
    return 0


def run(args: argparse.Namespace) -> int:
    from emma_lab.robustness.runner import run_suite  # the training code, on use only
    from emma_plugins.training.devices import resolve_device

    if args.list:
        for name, path in available_benches(args.bench_dir).items():
            print(f"{name:<16} {path}")
        return 0
    if args.seeds is not None and args.seeds < 1:
        print(f"error: --seeds must be at least 1, got {args.seeds}", file=sys.stderr)
        return 2
    if args.out is None:
        print("error: --out DIR is required (where the report and tables go)", file=sys.stderr)
        return 2
    if args.device is not None:
        resolve_device(args.device)  # a missing or malformed device: one line, nothing written
    benches = [b.with_device(args.device) for b in resolve_benches(args.datasets, args.bench_dir)]
    for bench in benches:
        resolve_device(bench.emma_spec().resolved_training.device)
    settings = {
        "benches": [bench.model_dump(mode="json") for bench in benches],
        "seeds": args.seeds,
        "quick": args.quick,
        "suite": args.suite,
    }
    with output_directory(args, args.out, settings):
        results, paths = run_suite(
            benches,
            args.out,
            data_dir=args.data_dir,
            seeds=args.seeds,
            quick=args.quick,
            progress=not args.no_progress,
            device=args.device,
            stack=not args.no_stack,
            resume=bool(getattr(args, "resume", False)),
            scheduler=args.scheduler,
            suite=args.suite,
        )
    for result in results:
        mine = [c for c in result.comparisons if c.a == result.emma_methods[0]]
        counts = {v: sum(c.verdict == v for c in mine) for v in ("win", "tie", "lose")}
        print(
            f"{result.name}: {result.emma_methods[0]} against the best peer "
            f"({result.best_peer}, chosen on validation): {counts['win']} wins, "
            f"{counts['tie']} ties, {counts['lose']} losses over {len(mine)} comparisons"
        )
        for outcome in result.failures.outcomes if result.failures else []:
            rank = outcome.rank_diff
            print(
                f"  unanticipated failures: {outcome.method} mean rank {rank.mean:+.2f} "
                f"[{rank.low:+.2f}, {rank.high:+.2f}] against {result.best_peer}, clean "
                f"{outcome.clean_diff:+.4f}" + (" (recommended)" if outcome.recommended else "")
            )
    print(f"report:  {paths['report']}")
    print(f"results: {paths['json']}")
    return 0
