"""The data one model trains on, in memory or streamed, and what its deployment record keeps
of it (columns, scaler, classes): the two ways `emma_plugins.deploy.fitting.fit_model` reads
data, behind one `TrainingData`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from emma_plugins.assembly.deployment import Deployment, ModeInput
from emma_plugins.deploy.data import (
    as_multimodal,
    check_out_features,
    lazy_source,
    load_spec_data,
    select_modes,
)
from emma_plugins.sources import MultiModalData
from emma_plugins.sources.splits import TRAIN_FRACTION
from emma_plugins.spec import EmmaSpec
from emma_plugins.training.prepare import prepare_spec
from emma_plugins.training.recipe import RecipeData
from emma_plugins.training.streams import LoaderSettings, prepare_stream


@dataclass(frozen=True)
class TrainingData:
    """The splits the recipe trains on (in memory or streamed) and what the deployment
    record keeps of the data: columns, scaling, classes."""

    clean: dict[str, Any]
    mixed: dict[str, Any]
    recipe: RecipeData
    deployment: Deployment
    n_classes: int


def in_memory(
    spec: EmmaSpec,
    data: Any,
    y: Any,
    data_dir: str | os.PathLike[str] | None,
    place: torch.device,
) -> TrainingData:
    """The data in memory (the spec's data section, or Python objects), split, scaled and
    corrupted with the training mix; on ``place``."""
    if data is None:
        data = select_modes(load_spec_data(spec, data_dir), spec)
    elif not isinstance(data, MultiModalData):
        data = as_multimodal(data, y, spec=spec)
    check_out_features(spec, data.task, data.n_classes, f"data set {data.name!r}")
    prepared = prepare_spec(data, spec).to(place)
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
    return TrainingData(prepared.clean, prepared.mixed, prepared.recipe, deployment, data.n_classes)


def streamed(
    spec: EmmaSpec, data_dir: str | os.PathLike[str] | None, place: torch.device
) -> TrainingData:
    """The spec's folder data set as streams decoded per batch (``training.loader``)."""
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
    return TrainingData(streamed.clean, streamed.mixed, streamed.recipe, deployment, n_classes)


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


__all__ = ["TrainingData", "in_memory", "streamed"]
