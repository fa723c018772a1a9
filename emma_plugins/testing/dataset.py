"""Conformance checks for data sets (the ``dataset`` family).

A data-set factory returns `emma_plugins.sources.MultiModalData`: at least one sample,
mode names a spec can use, one finite float32 tensor ``(N, *shape)`` per mode, integer
targets in ``0..n_classes-1``, and ``subset`` keeping the rows it is given.

The kit loads a registered kind with its fast parameters (``conformance_params``) and,
when its parameter model has a ``download`` field, ``download=False``: a data set that is
not on disk raises `emma_plugins.DataError`, which `parametrize_with_checks` turns into a
skip.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from emma_plugins.core.registry import Registration
from emma_plugins.sources.container import MultiModalData
from emma_plugins.testing._assertions import assert_tensor
from emma_plugins.testing._kit import Case, FamilyKit, Params, registration_of, run_kit
from emma_plugins.testing.samples import fast_params

__all__ = [
    "DATASET_CHECKS",
    "check_dataset",
    "check_dataset_modes",
    "check_dataset_subset",
    "check_dataset_tensors",
    "check_registered_dataset",
    "dataset_params",
]

#: What a mode name must look like for a spec to name it (as `ModeSpec.name`).
_MODE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def check_dataset_modes(data: Any, inputs: Any = None) -> None:
    """A `MultiModalData` with samples, and modes that a spec can name."""
    del inputs
    if not isinstance(data, MultiModalData):
        raise AssertionError(
            f"a data-set factory must return emma_plugins.sources.MultiModalData, got "
            f"{type(data).__name__}."
        )
    if len(data) == 0:
        raise AssertionError(f"data set {data.name!r} has no samples.")
    bad = [name for name in data.mode_names if not _MODE_NAME.match(name)]
    if bad:
        raise AssertionError(
            f"mode names {bad} cannot be named in a spec; use letters, digits, _ . - and start "
            "with a letter or _."
        )


def check_dataset_tensors(data: MultiModalData, inputs: Any = None) -> None:
    """``to_tensors()``: finite float32 ``(N, *shape)`` per mode and int64 targets in range."""
    del inputs
    modes, target = data.to_tensors()
    n = len(data)
    if len(modes) != len(data.mode_names):
        raise AssertionError(f"to_tensors() gave {len(modes)} modes for {data.mode_names}.")
    for name, shape, x in zip(data.mode_names, data.mode_shapes, modes, strict=True):
        assert_tensor(x, (n, *shape), f"mode {name!r} of to_tensors()")
        if x.dtype != torch.float32:
            raise AssertionError(f"mode {name!r} is {x.dtype}; modes must be float32.")
    if target.dtype != torch.int64 or tuple(target.shape) != (n,):
        raise AssertionError(f"the target must be int64 of shape ({n},), got {target.dtype}.")
    if n and (int(target.min()) < 0 or int(target.max()) >= data.n_classes):
        raise AssertionError(f"targets must lie in 0..{data.n_classes - 1}.")


def check_dataset_subset(data: MultiModalData, inputs: Any = None) -> None:
    """``subset(rows)`` keeps exactly those rows, in order, with the same modes."""
    del inputs
    rows = [len(data) - 1, 0]
    part = data.subset(rows)
    if len(part) != len(rows) or part.mode_names != data.mode_names:
        raise AssertionError("subset(rows) must keep the modes and exactly the rows given.")
    whole, target = data.to_tensors()
    some, some_target = part.to_tensors()
    for x, y in zip(whole, some, strict=True):
        if not torch.equal(x[rows], y):
            raise AssertionError("subset(rows) changed the values of the rows it kept.")
    if not torch.equal(target[rows], some_target):
        raise AssertionError("subset(rows) changed the targets of the rows it kept.")


DATASET_CHECKS = (check_dataset_modes, check_dataset_tensors, check_dataset_subset)


def dataset_params(registration: Registration, params: Params = None) -> dict[str, Any]:
    """Fast parameters, with ``download=False`` when the kind can download."""
    values = fast_params(registration, params)
    if "download" in registration.params.model_fields:
        values.setdefault("download", False)
    return values


def dataset_case(registration: Registration, params: Params = None) -> Case:
    return Case(registration.build(dataset_params(registration, params)), None)


def check_dataset(data: MultiModalData) -> None:
    """Run every data-set check on loaded ``data``."""
    run_kit(KIT, Case(data, None), data.name if isinstance(data, MultiModalData) else None)


def check_registered_dataset(kind: str, params: Params = None) -> None:
    """Load the installed data set ``kind`` (no download) and run every check."""
    run_kit(KIT, dataset_case(registration_of("dataset", kind), params), kind)


KIT = FamilyKit("dataset", DATASET_CHECKS, dataset_case, copy=False)
