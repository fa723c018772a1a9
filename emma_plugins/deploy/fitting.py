"""Train one model for use, from a spec and data, into a model directory (``emma fit``).

The data are split (stratified, or by the data set's own split column), standardized with
the training split's statistics, and corrupted with the spec's training mix; the model then
trains through the spec's stages (`emma_plugins.training.recipe`), its failure thresholds
are calibrated on clean validation data, and it is scored on the test split, clean and
corrupted. With an output directory, every epoch's trainer state is kept under
``progress/`` (so ``resume`` continues after a crash) and the result is a model directory:
weights, spec, ``deployment.json`` (columns, scaler, class names, thresholds),
``history.csv`` and ``metrics.json``, all listed in the manifest. A folder data set with
``training.loader.stream`` is decoded per batch instead of loaded whole
(`emma_plugins.deploy.training_data`).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.checkpoint import save
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.core.errors import SpecError
from emma_plugins.deploy.calibration import calibrate
from emma_plugins.deploy.progress import PROGRESS_DIR, FileStageStore
from emma_plugins.deploy.scores import split_scores
from emma_plugins.deploy.training_data import TrainingData, in_memory, streamed
from emma_plugins.rundir import fingerprint
from emma_plugins.sources import MultiModalData
from emma_plugins.spec import EmmaSpec
from emma_plugins.training.devices import resolve_device
from emma_plugins.training.distributed import current_group
from emma_plugins.training.loop import MetricsFn
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.recipe import EpochListener, train_recipe
from emma_plugins.training.resume import TrainerState
from emma_plugins.training.threads import torch_threads

HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"


@dataclass
class FitOutcome:
    """The trained model (with its deployment record), its history and its test scores."""

    model: EmmaModel
    history: pd.DataFrame
    metrics: dict[str, Any]
    directory: Path | None = None


def fit_model(
    spec: EmmaSpec,
    data: MultiModalData | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = False,
    y: Any = None,
    tensorboard: str | os.PathLike[str] | None = None,
    device: str | None = None,
) -> FitOutcome:
    """Train one model as ``spec`` says, on ``data`` (default: the spec's data section).

    ``data`` is a `MultiModalData`, or what `as_multimodal` takes (a DataFrame, a dict of
    arrays per mode, a torch ``Dataset``) with the labels ``y``. With ``out`` the model
    directory is written there (the caller locks it; see `emma fit`), and ``resume``
    continues the training saved under ``out/progress``. With ``tensorboard`` (a folder;
    needs the ``tensorboard`` package) every epoch's history row is logged there too.

    ``device`` (default ``training.device``) is where the model and the data live while
    training; the model comes back on it (its saved weights are moved to the CPU). Under
    ``torchrun`` (`emma_plugins.training.distributed.from_environment`) every process
    trains its shard and only rank 0 writes.
    """
    training = spec.resolved_training
    group = current_group()
    main = group is None or group.is_main
    place = group.device if group is not None else resolve_device(device or training.device)
    with torch_threads(training.threads):
        if training.loader.stream:
            if data is not None:
                raise SpecError(
                    "training.loader.stream reads the spec's folder data set itself; pass no "
                    "data, or turn streaming off to train on data given from Python."
                )
            prepared = streamed(spec, data_dir, place)
        else:
            prepared = in_memory(spec, data, y, data_dir, place)
        torch.manual_seed(training.seed)
        model = build(spec).to(place)
        loss = ClassificationLoss(
            prepared.clean["train"].y, prepared.n_classes, balanced=training.balanced_loss
        )
        store, listeners = None, []
        if out is not None:
            store = FileStageStore(Path(out) / PROGRESS_DIR)
            if main:
                store.begin(fingerprint(spec.to_dict()), resume=resume)
                listeners.append(_history_writer(Path(out) / HISTORY_FILE))
            if group is not None:
                group.barrier()  # the others read progress only once rank 0 checked it
        if tensorboard is not None and main:
            listeners.append(_tensorboard_writer(tensorboard))
        result = train_recipe(
            model,
            prepared.recipe,
            training,
            loss,
            store=store,
            progress=progress,
            val_metrics=_stage_metrics(prepared),
            on_epoch=_each(listeners),
        )
        thresholds = calibrate(
            model,
            prepared.clean["val"],
            training.false_alarm_rate,
            mixed_val=prepared.mixed["val"],
        )
        model.deployment = prepared.deployment.with_thresholds(thresholds)
        metrics = {
            **split_scores(model, prepared.clean["test"], "test_clean_"),
            **split_scores(model, prepared.mixed["test"], "test_mixed_"),
            "rows": {name: len(part) for name, part in prepared.clean.items()},
        }
    history = pd.DataFrame(result.history())
    directory = None
    if out is not None and main:
        directory = save(
            model,
            out,
            extras={
                HISTORY_FILE: history.to_csv(index=False).encode(),
                METRICS_FILE: (json.dumps(metrics, indent=2) + "\n").encode(),
            },
        )
    if group is not None:
        group.barrier()  # no process leaves before the model directory is complete
    return FitOutcome(model.eval(), history, metrics, directory)


def _stage_metrics(prepared: TrainingData) -> Any:
    def for_stage(stage: str) -> MetricsFn:
        val = prepared.clean["val"] if stage == "base" else prepared.mixed["val"]
        return lambda model: split_scores(model, val, "val_")

    return for_stage


def _each(listeners: list[EpochListener]) -> EpochListener | None:
    if not listeners:
        return None

    def tell(stage: str, state: TrainerState) -> None:
        for listen in listeners:
            listen(stage, state)

    return tell


def _tensorboard_writer(folder: str | os.PathLike[str]) -> EpochListener:
    """Log each epoch's history row as scalars ``<stage>/<column>`` (x: the epoch)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch's module needs the tensorboard package
        raise ImportError(
            "TensorBoard logging needs the tensorboard package: pip install "
            "'emma-plugins[tensorboard]'."
        ) from exc
    writer = SummaryWriter(log_dir=str(folder))

    def log(stage: str, state: TrainerState) -> None:
        row = state.history[-1]
        for key, value in row.items():
            if key != "epoch":
                writer.add_scalar(f"{stage}/{key}", value, global_step=state.epoch)
        writer.flush()

    return log


def _history_writer(path: Path) -> EpochListener:
    """After each epoch, rewrite ``history.csv`` with the stage's rows so far (atomically),
    so a long fit can be watched and a crash leaves the history of what finished."""
    from emma_plugins.atomic import write_atomic

    done: dict[str, list[dict[str, float]]] = {}

    def write(stage: str, state: TrainerState) -> None:
        done[stage] = state.history
        rows = [{"stage": name, **row} for name, history in done.items() for row in history]
        buffer = io.StringIO()
        pd.DataFrame(rows).to_csv(buffer, index=False)
        write_atomic(path, lambda handle: handle.write(buffer.getvalue().encode()))

    return write


__all__ = ["HISTORY_FILE", "METRICS_FILE", "FitOutcome", "fit_model"]
