"""``emma fit SPEC --out DIR``: train one model for use and write its model directory."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path

from emma_plugins.commands.arguments import add_device_option, add_spec_run_arguments, with_device
from emma_plugins.commands.output import add_output_arguments, output_directory


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="train one model the way a spec says and write its model directory",
        description="Train one model on the spec's data: stage 1 estimators, the base "
        "network (training.base_epochs), then EMMA plus the network on the corrupted mix "
        "(training.epochs). Calibrate the per-mode failure thresholds on clean validation "
        "data and score the test split. DIR becomes a model directory (weights, spec, "
        "deployment.json, history.csv, metrics.json) that emma predict, emma export and "
        "EmmaModel.from_pretrained read. Every epoch's trainer state is saved under "
        "DIR/progress, so --resume continues a killed fit from its last complete epoch. "
        "Under torchrun (torchrun --nproc-per-node N -m emma_plugins fit SPEC --out DIR) "
        "every process trains its shard of each batch and rank 0 writes DIR.",
    )
    add_spec_run_arguments(parser, "emma-models/<spec name>")
    add_output_arguments(parser, resume="continue the fit saved there from its last complete epoch")
    add_device_option(parser)
    parser.add_argument(
        "--tensorboard",
        type=Path,
        default=None,
        metavar="LOGDIR",
        help="also log every epoch's losses and scores for TensorBoard (needs the tensorboard "
        "package: pip install 'emma-plugins[tensorboard]')",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from emma_plugins.deploy.fitting import fit_model  # torch training, on use only
    from emma_plugins.spec import load_spec
    from emma_plugins.training.devices import resolve_device
    from emma_plugins.training.distributed import from_environment

    spec = with_device(load_spec(args.spec), args.device)
    out = args.out or Path("emma-models") / args.spec.stem
    device = resolve_device(spec.resolved_training.device)
    with from_environment(device) as group:
        main = group is None or group.is_main
        writing = output_directory(args, out, spec.to_dict()) if main else nullcontext()
        with writing:
            outcome = fit_model(
                spec,
                data_dir=args.data_dir,
                out=out,
                resume=bool(getattr(args, "resume", False)),
                progress=not args.no_progress,
                tensorboard=args.tensorboard,
            )
    if not main:
        return 0
    metrics = outcome.metrics
    deployment = outcome.model.deployment
    assert deployment is not None and deployment.thresholds is not None
    print(f"model directory: {out}")
    print(
        f"test accuracy {metrics['test_clean_accuracy']:.4f} clean, "
        f"{metrics['test_mixed_accuracy']:.4f} on the corrupted mix "
        f"(F1 {metrics['test_clean_f1']:.4f} / {metrics['test_mixed_f1']:.4f})"
    )
    rate = deployment.thresholds.false_alarm_rate
    limits = ", ".join(f"{m} {v:.3g}" for m, v in deployment.thresholds.modes.items())
    print(f"failure thresholds ({rate:.1%} false alarms on clean validation): {limits}")
    return 0
