"""``emma export MODEL_DIR``: write a trained model as ONNX or a ``torch.export`` program."""

from __future__ import annotations

import argparse
from pathlib import Path

#: ``--format`` choices and their default file names in the model directory (the same as
#: `emma_plugins.deploy.export.FORMATS`, which is imported only when the command runs).
FORMATS = {"onnx": "model.onnx", "torch": "model.pt2"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a trained model directory to ONNX or a torch.export program",
        description="Export the model in MODEL_DIR (trained by `emma fit`) with its scaler, "
        "invalid-reading guard and failure thresholds: raw readings in (one input per mode, "
        "named after it, plus a bool `missing` mask [N, M]), predictions, attention, "
        "potentials and failure flags out. The batch dimension is dynamic.",
    )
    parser.add_argument(
        "model_dir", type=Path, metavar="MODEL_DIR", help="a model directory (emma fit)"
    )
    parser.add_argument(
        "--format",
        choices=sorted(FORMATS),
        default="onnx",
        help="onnx (default; needs onnx and onnxscript) or torch (a torch.export .pt2 file)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write (default: MODEL_DIR/model.onnx or MODEL_DIR/model.pt2)",
    )
    parser.add_argument(
        "--no-missing-input",
        dest="with_missing",
        action="store_false",
        help="leave out the `missing` mask input (every mode always given)",
    )
    parser.add_argument(
        "--opset", type=int, metavar="N", help="ONNX opset version (default: the exporter's)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from emma_plugins.deploy.export import export_model

    path, signature = export_model(
        args.model_dir,
        args.out,
        format=args.format,
        with_missing=args.with_missing,
        opset=args.opset,
    )
    print(f"wrote {path} ({args.format})")
    print("inputs:  " + ", ".join(map(str, signature.inputs)))
    print("outputs: " + ", ".join(map(str, signature.outputs)))
    return 0
