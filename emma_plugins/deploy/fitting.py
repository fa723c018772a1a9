"""Train one model for use, from a spec and data, into a model directory (``emma fit``).

The data are split (stratified, or by the data set's own split column), standardized with
the training split's statistics, and corrupted with the spec's training mix; the model then
trains through the spec's stages (`emma_plugins.training.recipe`), its failure thresholds
are calibrated on clean validation data, and it is scored on the test split, clean and
corrupted. With an output directory, every epoch's trainer state is kept under
``progress/`` (so ``resume`` continues after a crash) and the result is a model directory:
weights, spec, ``deployment.json`` (columns, scaler, class names, thresholds),
``history.csv`` and ``metrics.json``, all listed in the manifest.
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
from emma_plugins.assembly.deployment import Deployment, ModeInput
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.core.errors import SpecError
from emma_plugins.deploy.calibration import calibrate
from emma_plugins.deploy.data import (
    as_multimodal,
    check_out_features,
    lazy_source,
    load_spec_data,
    select_modes,
)
from emma_plugins.deploy.progress import PROGRESS_DIR, FileStageStore
from emma_plugins.deploy.scores import split_scores
from emma_plugins.rundir import fingerprint
from emma_plugins.sources import MultiModalData
from emma_plugins.sources.splits import TRAIN_FRACTION
from emma_plugins.spec import EmmaSpec
from emma_plugins.training.devices import resolve_device
from emma_plugins.training.distributed import current_group
from emma_plugins.training.loop import MetricsFn
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.prepare import prepare
from emma_plugins.training.recipe import EpochListener, RecipeData, train_recipe
from emma_plugins.training.resume import TrainerState
from emma_plugins.training.streams import LoaderSettings, prepare_stream
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
            prepared = _streamed(spec, data_dir, place)
        else:
            prepared = _in_memory(spec, data, y, data_dir, place)
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


@dataclass(frozen=True)
class _TrainingData:
    """The splits the recipe trains on (in memory or streamed) and what the deployment
    record keeps of the data: columns, scaling, classes."""

    clean: dict[str, Any]
    mixed: dict[str, Any]
    recipe: RecipeData
    deployment: Deployment
    n_classes: int


def _in_memory(
    spec: EmmaSpec,
    data: Any,
    y: Any,
    data_dir: str | os.PathLike[str] | None,
    place: torch.device,
) -> _TrainingData:
    training = spec.resolved_training
    if data is None:
        data = select_modes(load_spec_data(spec, data_dir), spec)
    elif not isinstance(data, MultiModalData):
        data = as_multimodal(data, y, spec=spec)
    check_out_features(spec, data.task, data.n_classes, f"data set {data.name!r}")
    prepared = prepare(
        data,
        spec.mode_names,
        seed=training.seed,
        corruption=training.corruption,
        train=spec.data.train_fraction if spec.data is not None else TRAIN_FRACTION,
        on_missing={mode.name: mode.on_missing for mode in spec.modes},
    ).to(place)
    scaler = prepared.splits.standardizer
    assert scaler is not None and scaler.mean_ is not None and scaler.std_ is not None
    columns = {mode: data.modes[mode] for mode in spec.mode_names}
    deployment = _deployment(
        spec,
        data.task,
        list(data.class_names or [str(c) for c in range(data.n_classes)]),
        columns,
        {m: [float(scaler.mean_[c]) for c in cs] for m, cs in columns.items()},
        {m: [float(scaler.std_[c]) for c in cs] for m, cs in columns.items()},
    )
    return _TrainingData(
        prepared.clean, prepared.mixed, prepared.recipe, deployment, data.n_classes
    )


def _streamed(
    spec: EmmaSpec, data_dir: str | os.PathLike[str] | None, place: torch.device
) -> _TrainingData:
    training = spec.resolved_training
    loader = training.loader
    source = lazy_source(spec, data_dir)
    n_classes = len(source.class_names)
    task = "binary" if n_classes == 2 else "multiclass"
    kind = spec.data.dataset.kind if spec.data is not None else "stream"
    check_out_features(spec, task, n_classes, f"data set {kind!r}")
    settings = LoaderSettings(
        num_workers=loader.num_workers,
        pin_memory=loader.pin_memory if loader.pin_memory is not None else place.type == "cuda",
        persistent_workers=loader.persistent_workers,
        prefetch_factor=loader.prefetch_factor,
    )
    streamed = prepare_stream(
        source,
        spec.mode_names,
        seed=training.seed,
        corruption=training.corruption,
        train=spec.data.train_fraction if spec.data is not None else TRAIN_FRACTION,
        settings=settings,
        device=place,
    )
    scaling = streamed.scaling
    columns = {m: [f"{m}_{i}" for i in range(scaling.mean[m].numel())] for m in spec.mode_names}
    deployment = _deployment(
        spec,
        task,
        list(source.class_names),
        columns,
        {m: scaling.mean[m].flatten().tolist() for m in spec.mode_names},
        {m: scaling.std[m].flatten().tolist() for m in spec.mode_names},
    )
    return _TrainingData(streamed.clean, streamed.mixed, streamed.recipe, deployment, n_classes)


def _stage_metrics(prepared: _TrainingData) -> Any:
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


def _deployment(
    spec: EmmaSpec,
    task: str,
    class_names: list[str],
    columns: dict[str, list[str]],
    mean: dict[str, list[float]],
    std: dict[str, list[float]],
) -> Deployment:
    modes = {
        mode.name: ModeInput(
            columns=columns[mode.name],
            mean=mean[mode.name],
            std=std[mode.name],
            on_missing=mode.on_missing,
        )
        for mode in spec.modes
    }
    label = spec.data.dataset.params().get("label") if spec.data is not None else None
    return Deployment(
        task="binary" if task == "binary" else "multiclass",
        class_names=class_names,
        label=label if isinstance(label, str) else None,
        modes=modes,
    )


__all__ = ["HISTORY_FILE", "METRICS_FILE", "FitOutcome", "fit_model"]
