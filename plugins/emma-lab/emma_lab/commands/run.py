"""``emma run SPEC --out DIR``: train and evaluate what a spec describes; write the report."""

from __future__ import annotations

import argparse
from pathlib import Path

from emma_lab.commands.scheduler import add_scheduler_option
from emma_plugins.commands.arguments import (
    add_device_option,
    add_spec_run_arguments,
    add_stack_option,
    with_device,
)
from emma_plugins.commands.output import add_output_arguments, output_directory


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the experiment a spec describes and write its report",
        description="Train early_fusion, noise_augmentation and emma (plus the spec's "
        "variants) over the spec's seeds, evaluate them on clean and one-mode-noisy test "
        "data, and write results.csv, results.json, figures and report.md to the output directory. "
        "The directory is locked while the run writes and described by run.json; one that "
        "holds another spec's outputs needs --overwrite. Every seed's models are kept in "
        "DIR/checkpoints, so --resume continues a killed run at its first unfinished seed. "
        "Every model trains and is scored on --device (default: the spec's training.device).",
    )
    add_spec_run_arguments(parser, "emma-runs/<spec name>")
    add_output_arguments(parser, resume="load the seeds it finished, train the others")
    parser.add_argument(
        "--seeds", type=int, default=None, metavar="N", help="use only the spec's first N seeds"
    )
    add_device_option(parser)
    add_stack_option(parser)
    add_scheduler_option(parser, "seeds", "the report")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from emma_lab.experiments.runner import run_spec  # the experiment code, on use only
    from emma_lab.spec import evaluation_of
    from emma_plugins.spec import load_spec
    from emma_plugins.training.devices import resolve_device

    spec = with_device(load_spec(args.spec), args.device)
    resolve_device(spec.resolved_training.device)  # a missing device: one line, nothing written
    out = args.out or Path("emma-runs") / args.spec.stem
    seeds = None
    if args.seeds is not None:
        all_seeds = list(evaluation_of(spec).seeds)
        seeds = all_seeds[: max(args.seeds, 1)]
    with output_directory(args, out, spec.to_dict()):
        result, paths = run_spec(
            spec,
            out,
            data_dir=args.data_dir,
            seeds=seeds,
            progress=not args.no_progress,
            stack=not args.no_stack,
            resume=bool(getattr(args, "resume", False)),
            scheduler=args.scheduler,
        )
    summary = result.summary()
    full = summary[summary.evaluation == "full_test"]
    print(f"{result.metric} on the whole test split, mean ± std over seeds:")
    for row in full.itertuples():
        print(f"  {row.model:<22} {row.condition:<16} {row.mean:.4f} ± {row.std:.4f}")
    print(f"report:  {paths['report']}")
    print(f"results: {paths['csv']}, {paths['json']}")
    return 0
