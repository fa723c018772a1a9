"""``emma grid SPEC --out DIR``: the emma model's hyperparameter grid, selected on validation."""

from __future__ import annotations

import argparse
from pathlib import Path

from emma_lab.commands.scheduler import add_scheduler_option
from emma_lab.spec import MAX_WORKERS
from emma_plugins.commands.arguments import add_spec_run_arguments, add_stack_option
from emma_plugins.commands.output import add_output_arguments, output_directory


def _workers(text: str) -> int:
    """``--workers``: the same range as the spec's ``evaluation.grid.workers``."""
    value = int(text)
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_WORKERS}, got {value}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "grid",
        help="train the rho x lambda_e x lambda_c grid, select on validation, rerun the top",
        description="Train every configuration of evaluation.grid (default: the thesis' 125) "
        "once, rank them on validation data only, train the top ones again over the rerun "
        "seeds and compare them with noise_augmentation on test. Resumes from DIR/grid.jsonl. "
        "The directory is locked while the grid writes and described by run.json; one that "
        "holds another spec's outputs needs --overwrite (start over) or --resume.",
    )
    add_spec_run_arguments(parser, "emma-runs/<spec>-grid")
    add_output_arguments(
        parser,
        resume="keep DIR/grid.jsonl and train only the configurations it lacks (its records "
        "must share the spec's model, training and scoring settings)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help=f"worker processes, 1 to {MAX_WORKERS} (default: the spec's, 2)",
    )
    add_scheduler_option(where, "jobs", "DIR/grid.jsonl")
    add_stack_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from emma_lab.grid.runner import run_grid_spec  # the experiment code, on use only
    from emma_plugins.spec import load_spec

    spec = load_spec(args.spec)
    out = args.out or Path("emma-runs") / f"{args.spec.stem}-grid"
    with output_directory(args, out, spec.to_dict()):
        result, paths = run_grid_spec(
            spec,
            out,
            data_dir=args.data_dir,
            workers=args.workers,
            progress=not args.no_progress,
            scheduler=args.scheduler,
            stack=not args.no_stack,
        )
    print(f"top {len(result.top)} of {len(result.selection)} by validation loss:")
    for row in result.selection.head(len(result.top)).itertuples():
        print(f"  {row.rank:>3}  {row.key:<40} val loss {row.val_loss:.4f}")
    wins = sum(c.verdict == "win" for c in result.reruns.comparisons)
    print(
        f"{wins} of {len(result.reruns.comparisons)} comparisons with noise_augmentation are wins"
    )
    print(f"report:  {paths['report']}")
    print(f"results: {paths['csv']}, {paths['top_csv']}, {paths['log']}")
    return 0
