"""``emma predict MODEL_DIR DATA --out FILE``: predictions and per-mode failure flags."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict a table with a model directory; flag the modes that failed",
        description="Read DATA (CSV, TSV, JSONL; Parquet or Feather with the table extra), "
        "which holds the columns the model was trained on (by name), and write one row per "
        "input row, in input order: prediction, proba_<class>, and per mode "
        "<mode>_potential, <mode>_importance, <mode>_attention and <mode>_failed, then "
        "total_energy and uncertain. A mode is flagged failed when its potential exceeds "
        "the threshold calibrated by emma fit, or when a reading is missing, NaN, infinite "
        "or far beyond the training range (the mode is then masked, or imputed per its "
        "on_missing). CSV and TSV are streamed in chunks.",
    )
    parser.add_argument(
        "model", type=Path, metavar="MODEL_DIR", help="a model directory (emma fit)"
    )
    parser.add_argument("data", type=Path, metavar="DATA", help="the table to predict")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output CSV (default: DATA's name + .predictions.csv)",
    )
    parser.add_argument(
        "--chunk-rows",
        type=_positive,
        default=None,
        metavar="N",
        help="rows per chunk (default 20000)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from emma_plugins.assembly.checkpoint import load
    from emma_plugins.deploy.prediction import CHUNK_ROWS, predict_file

    chunk = args.chunk_rows or CHUNK_ROWS
    out = args.out or args.data.with_name(args.data.stem + ".predictions.csv")
    model = load(args.model)
    rows = predict_file(model, args.data, out, chunk_rows=chunk)
    print(f"{rows} rows -> {out}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
