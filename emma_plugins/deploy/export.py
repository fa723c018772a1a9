"""Export a trained model, raw-input guard and thresholds included, to ONNX or ``torch.export``.

What is exported is `RawInputModel`: raw readings in, the `OUTPUTS` out, exactly what
``emma predict`` computes. The graph takes one input per mode, named after the mode, in spec
order (``[N, *shape]`` in the model's dtype, float32 for a model trained by ``emma fit``),
then, unless ``with_missing=False``, a bool mask ``missing`` ``[N, M]`` (True where a mode
is absent; pass all False when none is). The batch dimension ``N`` is dynamic.

ONNX goes through ``torch.onnx.export(..., dynamo=True)``: the model is traced by
``torch.export`` and translated by onnxscript (install the ``onnx`` extra). Only where that
exporter is unavailable (torch older than 2.5, or onnxscript not installed) is the
TorchScript-based exporter (``dynamo=False``) used instead, with a warning.

A model cannot be exported when its attention reads an estimator score computed by
autograd at inference (``attention.energy_input: grad_norm``): a traced graph holds no
backward pass. That, and any other failure to trace, is an `ExportError`.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.atomic import write_atomic
from emma_plugins.core.errors import EmmaError
from emma_plugins.deploy.inference import OUTPUTS, RawInputModel, deployment_of

#: Name of the optional mask input: ``[N, M]`` bool, True where a mode is missing.
MISSING_INPUT = "missing"

#: Estimator scores computed by autograd at inference (`EnergyEstimator.grad_norm`): a
#: model whose ``attention.energy_input`` is one of them cannot be traced into a graph.
GRADIENT_SCORES: frozenset[str] = frozenset({"grad_norm"})

#: Export formats and their default file names inside the model directory.
FORMATS: dict[str, str] = {"onnx": "model.onnx", "torch": "model.pt2"}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

#: Samples in the example batch the model is traced with (the batch stays dynamic).
EXAMPLE_BATCH = 4


class ExportError(EmmaError, RuntimeError):
    """A model cannot be exported (a gradient-based energy input, or tracing failed)."""


@dataclass(frozen=True)
class Port:
    """One input or output of an exported graph; ``shape`` names the batch ``N``."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str

    def __str__(self) -> str:
        return f"{self.name} [{', '.join(map(str, self.shape))}] {self.dtype}"


@dataclass(frozen=True)
class Signature:
    """The inputs and outputs of a model's exported graph, in order."""

    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]


class NamedInputModel(nn.Module):
    """`RawInputModel` with one positional tensor per mode, then optionally ``missing``.

    Exporters name inputs by position, and `RawInputModel` takes a list of modes.
    """

    def __init__(self, raw: RawInputModel, with_missing: bool = True) -> None:
        super().__init__()
        self.raw = raw
        self.n_modes = len(raw.mode_names)
        self.with_missing = with_missing

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        modes = list(inputs[: self.n_modes])
        missing = inputs[self.n_modes] if self.with_missing else None
        result: tuple[Tensor, ...] = self.raw(modes, missing)
        return result


# -- what is exported ------------------------------------------------------------------------
def load_model(model_or_dir: EmmaModel | str | os.PathLike[str]) -> EmmaModel:
    """The model itself, or the one saved in a model directory."""
    if isinstance(model_or_dir, EmmaModel):
        return model_or_dir
    return EmmaModel.from_pretrained(model_or_dir)


def check_exportable(model: EmmaModel) -> None:
    """`NotFittedError` without a deployment record, `ExportError` for a gradient input."""
    deployment_of(model)
    attention = model.attention
    if attention is not None and attention.energy_input in GRADIENT_SCORES:
        raise ExportError(
            f"this model cannot be exported: its attention reads the estimators' "
            f"{attention.energy_input!r}, computed by autograd at inference, and an exported "
            "graph holds no backward pass; train it with attention.energy_input: potential "
            "to export it."
        )


def input_names(model: EmmaModel, with_missing: bool = True) -> list[str]:
    """The graph's input names: the mode names in spec order, then ``missing``.

    A mode named like the mask or an output (``missing``, ``output``, ``attention``, ...)
    is renamed ``mode.<name>``, since a graph's value names must be unique.
    """
    taken = set(OUTPUTS) | ({MISSING_INPUT} if with_missing else set())
    names = [f"mode.{name}" if name in taken else name for name in model.mode_names]
    names += [MISSING_INPUT] if with_missing else []
    if len(set(names)) != len(names):
        raise ExportError(f"the exported inputs would have clashing names: {', '.join(names)}.")
    return names


def signature(model: EmmaModel, with_missing: bool = True) -> Signature:
    """The exported graph's inputs and outputs, with shapes (``N`` is the dynamic batch)."""
    deployment = deployment_of(model)
    dtype = str(model.input_dtype()[0]).removeprefix("torch.")
    m = len(model.mode_names)
    shapes: list[tuple[int | str, ...]] = [("N", *shape) for shape in model.mode_shapes]
    names = input_names(model, with_missing)[:m]
    inputs = [Port(n, s, dtype) for n, s in zip(names, shapes, strict=True)]
    if with_missing:
        inputs.append(Port(MISSING_INPUT, ("N", m), "bool"))
    classes = len(deployment.class_names)
    out_shapes: dict[str, tuple[int | str, ...]] = {
        "output": ("N", model.spec.out_features),
        "probabilities": ("N", classes),
        "total_energy": ("N",),
        "uncertain": ("N",),
    }
    outputs = [
        Port(
            name,
            out_shapes.get(name, ("N", m)),
            "bool" if name in ("failed", "uncertain") else dtype,
        )
        for name in OUTPUTS
    ]
    return Signature(tuple(inputs), tuple(outputs))


def _example_inputs(model: EmmaModel, with_missing: bool) -> tuple[Tensor, ...]:
    """A clean batch at the training means (shape and dtype are what matter)."""
    deployment = deployment_of(model)
    dtype, device = model.input_dtype()
    modes = [
        torch.tensor(deployment.modes[name].mean, dtype=dtype, device=device)
        .reshape(shape)
        .expand(EXAMPLE_BATCH, *shape)
        .contiguous()
        for name, shape in zip(model.mode_names, model.mode_shapes, strict=True)
    ]
    if with_missing:
        shape = (EXAMPLE_BATCH, len(modes))
        modes.append(torch.zeros(shape, dtype=torch.bool, device=device))
    return tuple(modes)


@contextlib.contextmanager
def _prepared(model: EmmaModel, with_missing: bool) -> Iterator[NamedInputModel]:
    """The wrapped model in eval mode with its attention calibrated; mode restored after."""
    check_exportable(model)
    training = model.training
    wrapper = NamedInputModel(RawInputModel(model), with_missing).eval()
    try:
        if model.attention is not None:
            model.attention.calibrate_()  # else the first traced call would calibrate
        yield wrapper
    finally:
        model.train(training)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporters' chatter that says nothing about this model."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping ..."
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*axis name.*will not be used")
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
            yield
    finally:
        registration.setLevel(level)


def _untraceable(exc: Exception, what: str) -> ExportError:
    """One line: torch's own reason, from the innermost cause (the exporters wrap it)."""
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    lines = [line for line in _ANSI.sub("", str(root)).splitlines() if line.strip()]
    reason = f"{type(root).__name__}: {lines[0].strip()}" if lines else type(root).__name__
    return ExportError(
        f"{what} could not trace this model (a stage or estimator that branches on values "
        f"or needs autograd at inference?): {reason}"
    )


# -- ONNX ------------------------------------------------------------------------------------
def _has_dynamo_exporter() -> bool:
    if "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        return False  # torch < 2.5
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def _dynamo_onnx(
    wrapper: nn.Module, args: tuple[Tensor, ...], inputs: list[str], opset: int | None
) -> bytes:
    batch = torch.export.Dim("N")
    program: Any = torch.onnx.export(
        wrapper,
        args,
        dynamo=True,
        input_names=inputs,
        output_names=list(OUTPUTS),
        dynamic_shapes=(tuple({0: batch} for _ in args),),
        opset_version=opset,
        verbose=False,
    )
    data: bytes = program.model_proto.SerializeToString()
    return data


def _torchscript_onnx(
    wrapper: nn.Module, args: tuple[Tensor, ...], inputs: list[str], opset: int | None
) -> bytes:
    axes = {name: {0: "N"} for name in [*inputs, *OUTPUTS]}
    parameters = inspect.signature(torch.onnx.export).parameters
    options: dict[str, Any] = {"dynamo": False} if "dynamo" in parameters else {}
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # the shape checks
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # warned once already
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "model.onnx"
        torch.onnx.export(
            wrapper,
            args,
            target,
            input_names=inputs,
            output_names=list(OUTPUTS),
            dynamic_axes=axes,
            opset_version=opset,
            **options,
        )
        return target.read_bytes()


def export_onnx(
    model_or_dir: EmmaModel | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    with_missing: bool = True,
    opset: int | None = None,
) -> Path:
    """Write the model as an ONNX file at ``path`` (atomically) and return the path.

    Exporter: ``torch.onnx.export(dynamo=True)`` (``torch.export`` then onnxscript); the
    TorchScript-based exporter only where that one is unavailable (torch < 2.5 or no
    onnxscript), with a warning. Inputs: one per mode, named after it (`input_names`),
    ``[N, *shape]``, then the bool ``missing`` ``[N, M]`` unless ``with_missing=False``.
    Outputs: the `OUTPUTS`, by those names. ``N`` is dynamic; ``opset`` defaults to the
    exporter's. Raises `ExportError` (gradient-based energy input, tracing failure) or
    `NotFittedError` (no deployment record).
    """
    model = load_model(model_or_dir)
    with _prepared(model, with_missing) as wrapper:
        args = _example_inputs(model, with_missing)
        names = input_names(model, with_missing)
        dynamo = _has_dynamo_exporter()
        if not dynamo:
            warnings.warn(
                "the dynamo ONNX exporter needs torch >= 2.5 and onnxscript (pip install "
                "'emma-plugins[onnx]'); exporting with the TorchScript-based exporter instead.",
                stacklevel=2,
            )
        exporter = _dynamo_onnx if dynamo else _torchscript_onnx
        try:
            with _quiet_exporter(), torch.no_grad():
                data = exporter(wrapper, args, names, opset)
        except EmmaError:
            raise
        except Exception as exc:  # the exporters raise many types; say it in one line
            raise _untraceable(exc, "the ONNX exporter") from exc
    return write_atomic(path, lambda handle: handle.write(data))


# -- torch.export ----------------------------------------------------------------------------
def export_program(
    model_or_dir: EmmaModel | str | os.PathLike[str], *, with_missing: bool = True
) -> torch.export.ExportedProgram:
    """The model traced by ``torch.export.export``, batch dimension dynamic."""
    model = load_model(model_or_dir)
    with _prepared(model, with_missing) as wrapper:
        args = _example_inputs(model, with_missing)
        batch = torch.export.Dim("N")
        try:
            with _quiet_exporter(), torch.no_grad():
                return torch.export.export(
                    wrapper, args, dynamic_shapes=(tuple({0: batch} for _ in args),)
                )
        except EmmaError:
            raise
        except Exception as exc:
            raise _untraceable(exc, "torch.export") from exc


def export_torch(
    model_or_dir: EmmaModel | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    with_missing: bool = True,
) -> Path:
    """Write the model as a ``torch.export`` program (``.pt2``) at ``path`` (atomically).

    Load it with ``torch.export.load(path).module()`` and call that with the modes in spec
    order, then the ``missing`` mask unless ``with_missing=False``; it returns the `OUTPUTS`.
    """
    program = export_program(model_or_dir, with_missing=with_missing)
    buffer = io.BytesIO()  # torch.export.save wants a .pt2 path or a buffer
    torch.export.save(program, buffer)
    data = buffer.getvalue()
    return write_atomic(path, lambda handle: handle.write(data))


def export_model(
    model_or_dir: EmmaModel | str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    format: str = "onnx",
    with_missing: bool = True,
    opset: int | None = None,
) -> tuple[Path, Signature]:
    """Export in ``format`` (``onnx`` or ``torch``) to ``path`` (default: `FORMATS`' file
    name in the model directory); returns the path written and the graph's signature."""
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; choose onnx or torch.")
    if format != "onnx" and opset is not None:
        raise ExportError("an opset applies to the onnx format only.")
    if path is None:
        if isinstance(model_or_dir, EmmaModel):
            raise ExportError("give the output path when exporting a model object.")
        path = Path(model_or_dir) / FORMATS[format]
    if Path(path).is_dir():
        raise ExportError(f"{path} is a directory; give the file to write (--out FILE).")
    model = load_model(model_or_dir)
    check_exportable(model)
    if format == "onnx":
        written = export_onnx(model, path, with_missing=with_missing, opset=opset)
    else:
        written = export_torch(model, path, with_missing=with_missing)
    return written, signature(model, with_missing)


__all__ = [
    "FORMATS",
    "GRADIENT_SCORES",
    "MISSING_INPUT",
    "ExportError",
    "NamedInputModel",
    "Port",
    "Signature",
    "check_exportable",
    "export_model",
    "export_onnx",
    "export_program",
    "export_torch",
    "input_names",
    "signature",
]
