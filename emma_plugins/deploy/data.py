"""The data a spec trains on: its ``data`` section's kind, or the user's own Python objects.

`load_spec_data` reads the registered data set the spec names; `as_multimodal` turns what a
Python caller has (a DataFrame with a label array, a dict of arrays per mode, or a torch
``Dataset`` of ``(dict of tensors, label)`` pairs) into the same `MultiModalData`. Either
way `select_modes` then arranges the columns as the spec's modes, checked against their
declared sizes.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from emma_plugins.assembly.model import as_model_input, check_mode_names
from emma_plugins.core.errors import DataError, SpecError
from emma_plugins.core.plugins import get_registry
from emma_plugins.sources import MultiModalData, resolve_data_dir
from emma_plugins.sources.table import encode_labels
from emma_plugins.spec import EmmaSpec, resolve_data_path

CPU = torch.device("cpu")


def select_modes(data: MultiModalData, spec: EmmaSpec) -> MultiModalData:
    """The data set's columns arranged as the spec's modes (by field, columns, or name)."""
    modes: dict[str, list[str]] = {}
    columns = [str(c) for c in data.features.columns]
    for mode in spec.modes:
        if mode.columns is not None:
            chosen = [columns[c] if isinstance(c, int) else str(c) for c in mode.columns]
        else:
            source = mode.field or mode.name
            if source not in data.modes:
                raise SpecError(
                    f"mode {mode.name!r}: data set {data.name!r} has no mode {source!r}; "
                    f"its modes are {', '.join(data.modes)}. Set field: or columns: on the mode."
                )
            chosen = data.modes[source]
        if len(chosen) != mode.size:
            raise SpecError(
                f"mode {mode.name!r} declares {mode.size} values per sample but the data set "
                f"gives {len(chosen)} columns for it."
            )
        modes[mode.name] = chosen
        given = (data.shapes or {}).get(mode.field or mode.name)
        shaped = len(mode.sample_shape) > 1
        if shaped and given is not None and tuple(given) != mode.sample_shape:
            raise SpecError(
                f"mode {mode.name!r} declares shape {list(mode.sample_shape)} but the data set "
                f"gives samples of shape {list(given)}; declare shape: {list(given)} (or a "
                f"flat [{mode.size}])."
            )
    used = [c for names in modes.values() for c in names]
    return MultiModalData(
        data.name,
        data.features[used],
        data.target,
        modes,
        data.task,
        data.n_classes,
        data.description,
        shapes={m.name: m.sample_shape for m in spec.modes if len(m.sample_shape) > 1} or None,
        predefined_split=data.predefined_split,
        class_names=data.class_names,
    )


def load_spec_data(
    spec: EmmaSpec, data_dir: str | os.PathLike[str] | None = None
) -> MultiModalData:
    """The classification data set the spec's data section names, from its registry kind.

    Paths in the spec are relative to the data directory (``data_dir``, else
    ``EMMA_DATA_DIR``). A point set without targets, and an ``out_features`` that does not
    fit the data's classes, are refused before anything trains.
    """
    if spec.data is None:
        raise SpecError(
            "the spec has no data section: add e.g. data: {dataset: {kind: breast_cancer}}, "
            "or pass the data from Python."
        )
    registration = get_registry("dataset").get(spec.data.dataset.kind)
    params = spec.data.dataset.params()
    if "data_dir" in registration.params.model_fields:
        root = resolve_data_dir(data_dir)
        relative = params.get("data_dir") or spec.data.data_dir
        params["data_dir"] = str(resolve_data_path(relative, root) if relative else root)
    data = registration.build(params)
    kind = spec.data.dataset.kind
    if data.task not in ("binary", "multiclass"):
        raise SpecError(
            f"data set {kind!r} is a {data.task} point set; training needs a classification "
            "data set with targets."
        )
    check_out_features(spec, data.task, data.n_classes, f"data set {kind!r}")
    return data


def lazy_source(spec: EmmaSpec, data_dir: str | os.PathLike[str] | None = None) -> Any:
    """The lazily decoded form of the spec's data set (``training.loader.stream``): what the
    kind's factory offers as ``factory.lazy`` (the folder kinds), with the spec's params."""
    if spec.data is None:
        raise SpecError("training.loader.stream needs a data section naming a folder data set.")
    kind = spec.data.dataset.kind
    registration = get_registry("dataset").get(kind)
    lazy = getattr(registration.factory, "lazy", None)
    if lazy is None:
        raise SpecError(
            f"training.loader.stream: data set kind {kind!r} has no streamed form; stream "
            "folder data sets (image_folder, audio_folder), or set stream: false."
        )
    params = spec.data.dataset.params()
    root = resolve_data_dir(data_dir)
    relative = params.get("data_dir") or spec.data.data_dir
    params["data_dir"] = str(resolve_data_path(relative, root) if relative else root)
    accepted = inspect.signature(lazy).parameters
    return lazy(**{k: v for k, v in params.items() if k in accepted})


def check_out_features(spec: EmmaSpec, task: str, n_classes: int, what: str) -> None:
    """Refuse a spec whose ``out_features`` does not fit the data's classes."""
    expected = 1 if task == "binary" else n_classes
    if spec.out_features == expected:
        return
    why = (
        "is a binary task, so the network gives one logit (its metric is F1 of class 1)"
        if task == "binary"
        else f"has {n_classes} classes, so the network gives one logit per class"
    )
    raise SpecError(
        f"out_features: {what} {why}: set out_features: {expected}, not {spec.out_features}"
    )


def as_multimodal(x: Any, y: Any = None, *, spec: EmmaSpec, name: str = "data") -> MultiModalData:
    """A Python caller's data as `MultiModalData` with the spec's modes.

    ``x`` is a pandas DataFrame (the spec's modes name their ``columns``), a mapping of
    mode name to an array ``[N, *shape]``, or a ``torch.utils.data.Dataset`` whose items
    are ``(dict of tensors, label)`` pairs (read into memory). ``y`` holds the labels
    (numbers or names) unless the dataset yields them.
    """
    if isinstance(x, pd.DataFrame):
        features = x.reset_index(drop=True)
        modes = _frame_modes(features, spec)
    elif isinstance(x, Mapping):
        features, modes = _arrays_table(x, spec)
    elif isinstance(x, torch.utils.data.Dataset):
        arrays, y = _read_dataset(x, spec)
        features, modes = _arrays_table(arrays, spec)
    else:
        raise TypeError(
            f"fit takes a pandas DataFrame, a dict of arrays per mode or a torch Dataset of "
            f"(dict of tensors, label) pairs; got {type(x).__name__}."
        )
    if y is None:
        raise DataError("no labels: pass y, one label per row.")
    target, class_names = encode_labels(y, "y")
    if len(target) != len(features):
        raise DataError(
            f"y has {len(target)} labels but x has {len(features)} rows; give one label per row."
        )
    if len(class_names) < 2:
        raise DataError(
            f"y: every one of the {len(target)} labels is {class_names[0]!r}; a classifier "
            "needs at least two classes."
        )
    n_classes = len(class_names)
    data = MultiModalData(
        name,
        features.apply(pd.to_numeric, errors="raise") if len(features.columns) else features,
        target,
        modes,
        "binary" if n_classes == 2 else "multiclass",
        n_classes,
        class_names=class_names,
    )
    return select_modes(data, spec)


def _frame_modes(frame: pd.DataFrame, spec: EmmaSpec) -> dict[str, list[str]]:
    header = [str(c) for c in frame.columns]
    frame.columns = header
    modes = {}
    for mode in spec.modes:
        if mode.columns is None:
            raise SpecError(
                f"mode {mode.name!r} names no columns; with a DataFrame every mode needs "
                "columns: [names or 0-based indices]."
            )
        chosen = [header[c] if isinstance(c, int) else str(c) for c in mode.columns]
        absent = [c for c in chosen if c not in header]
        if absent:
            raise DataError(
                f"mode {mode.name!r}: the DataFrame has no column(s) {absent}; "
                f"it has {', '.join(header[:12])}{', ...' if len(header) > 12 else ''}."
            )
        modes[mode.name] = chosen
    used = [column for names in modes.values() for column in names]
    non_numeric = [c for c in used if frame[c].dtype.kind not in "biuf"]
    if non_numeric:
        column = non_numeric[0]
        raise DataError(
            f"column {column!r} has dtype {frame[column].dtype}; features must be numbers "
            "(float, int or bool)."
        )
    return modes


def _arrays_table(
    arrays: Mapping[str, Any], spec: EmmaSpec
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    check_mode_names(arrays, spec.mode_names)
    blocks, modes = [], {}
    for mode in spec.modes:
        what = f"mode {mode.name!r}"
        array = as_model_input(arrays[mode.name], what, "[N, *shape]", torch.float64, CPU).numpy()
        if array.ndim < 1 or math.prod(array.shape[1:]) != mode.size:
            raise DataError(
                f"{what} has shape {array.shape}; the spec declares samples of shape "
                f"{list(mode.sample_shape)}, so pass an array [N, *that shape]."
            )
        names = [f"{mode.name}_{i}" for i in range(mode.size)]
        blocks.append(pd.DataFrame(array.reshape(len(array), -1).astype(np.float64), columns=names))
        modes[mode.name] = names
    lengths = {len(block) for block in blocks}
    if len(lengths) > 1:
        raise DataError(f"the modes have different numbers of rows ({sorted(lengths)}).")
    return pd.concat(blocks, axis=1), modes


def _read_dataset(dataset: Any, spec: EmmaSpec) -> tuple[dict[str, np.ndarray], list[Any]]:
    items: dict[str, list[np.ndarray]] = {m: [] for m in spec.mode_names}
    labels = []
    for index in range(len(dataset)):
        item = dataset[index]
        if not (isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], Mapping)):
            raise DataError(
                f"dataset item {index} is a {type(item).__name__}; items must be "
                "(dict of tensors per mode, label) pairs."
            )
        sample, label = item
        for mode in spec.mode_names:
            if mode not in sample:
                raise DataError(f"dataset item {index} has no mode {mode!r}.")
            items[mode].append(np.asarray(torch.as_tensor(sample[mode]), dtype=np.float64))
        labels.append(label.item() if isinstance(label, torch.Tensor) else label)
    return {mode: np.stack(values) for mode, values in items.items()}, labels


__all__ = [
    "as_multimodal",
    "check_out_features",
    "lazy_source",
    "load_spec_data",
    "select_modes",
]
