"""`EmmaModel`: the attention module in front of a multi-modal network, as one nn.Module."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, cast

import numpy as np
import torch
from torch import Tensor, nn

from emma_plugins.assembly.deployment import Deployment
from emma_plugins.attention import AttentionReport, EnergyAttention
from emma_plugins.attention.module import checked_missing, zero_missing
from emma_plugins.estimators import EnergyEstimator
from emma_plugins.estimators.base import Rows
from emma_plugins.spec import EmmaSpec

#: One mode, or a table of all modes: a tensor, a numpy array, nested lists of numbers (or,
#: for a table, a pandas DataFrame). Numbers of any real dtype are converted.
ArrayInput = Tensor | np.ndarray | Sequence[Any]
ModesInput = Mapping[str, ArrayInput] | Sequence[ArrayInput] | Tensor | np.ndarray

#: numpy dtypes torch reads as they are; other real dtypes go through float64 first.
_NUMPY_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


class EmmaOutput(NamedTuple):
    """The network's logits ``[N, out_features]`` and the attention report (None without EMMA)."""

    output: Tensor
    report: AttentionReport | None


class EmmaModel(nn.Module):
    """EMMA (estimators and attention stages) plus the network, built from one spec.

    ``attention`` is None when the spec disables it: the same network alone, so a baseline
    comes from the same spec. With ``apply_to="encodings"`` the weights scale the network's
    per-mode encodings (``network.encode`` then ``network.fuse``); the estimators always
    see the raw modes.
    """

    def __init__(
        self,
        spec: EmmaSpec,
        network: nn.Module,
        attention: EnergyAttention | None = None,
        *,
        network_source: str = "spec",
    ) -> None:
        super().__init__()
        self.spec = spec
        self.mode_names: tuple[str, ...] = spec.mode_names
        self.mode_shapes: tuple[tuple[int, ...], ...] = spec.mode_shapes
        self.apply_to = spec.attention.apply_to
        self.network_source = network_source
        self.attention = attention
        self.network = network
        #: Columns, scaler, class names and thresholds of a model trained by `emma fit`
        #: (None for a model that was only built): what turns raw rows into its inputs.
        self.deployment: Deployment | None = None
        if attention is not None:
            attention.name_modes(self.mode_names, [mode.estimator.kind for mode in spec.modes])

    @property
    def estimators(self) -> nn.ModuleList:
        """One energy estimator per mode (empty without attention)."""
        return self.attention.estimators if self.attention is not None else nn.ModuleList()

    # -- model directories ----------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike[str]) -> None:
        """Write the model directory: weights, spec and the deployment record, if any."""
        from emma_plugins.assembly.checkpoint import save

        save(self, directory)

    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike[str],
        *,
        network: nn.Module | None = None,
        device: str | torch.device | None = None,
    ) -> EmmaModel:
        """The model saved in ``directory`` (by `save_pretrained` or `emma fit`), in eval
        mode, on ``device`` (default: the CPU)."""
        from emma_plugins.assembly.checkpoint import load

        return load(directory, network=network, device=device)

    # -- inputs ----------------------------------------------------------------------------
    def input_dtype(self) -> tuple[torch.dtype, torch.device]:
        """The dtype and device inputs are converted to: those of the first floating-point
        parameter or buffer (the default dtype on the CPU for a model without any)."""
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            if tensor.is_floating_point():
                return tensor.dtype, tensor.device
        return torch.get_default_dtype(), torch.device("cpu")

    def split(self, x: Tensor | np.ndarray) -> list[Tensor]:
        """Cut a ``[N, sum of mode sizes]`` table into the modes, in spec order, reshaped.

        The table is converted to the model's dtype and device first (see `as_modes`).
        """
        sizes = [mode.size for mode in self.spec.modes]
        layout = " + ".join(f"{n} {s}" for n, s in zip(self.mode_names, sizes, strict=True))
        expected = f"a [N, {sum(sizes)}] table ({layout} columns, in spec order)"
        x = as_model_input(x, "the table", expected, *self.input_dtype())
        if x.dim() != 2 or x.shape[1] != sum(sizes):
            raise ValueError(
                f"split expects a [N, {sum(sizes)}] tensor ({layout} columns, in spec order); "
                f"got shape {tuple(x.shape)}."
            )
        parts = x.split(sizes, dim=1)
        return [
            part.reshape(-1, *shape) for part, shape in zip(parts, self.mode_shapes, strict=True)
        ]

    def as_modes(self, modes: ModesInput) -> list[Tensor]:
        """Modes in spec order from a mapping by name, a sequence, or one 2-D table.

        Each mode (or the table) may be a tensor, a numpy array or nested lists of real
        numbers (float, int or bool, any precision): it is converted to the model's dtype and
        device (`input_dtype`). Strings, objects, complex numbers and wrong shapes are
        refused with an error naming the mode, what it got and what is expected.
        """
        if isinstance(modes, Tensor | np.ndarray) or _is_frame(modes):
            return self.split(cast(Tensor | np.ndarray, modes))
        if isinstance(modes, Mapping):
            check_mode_names(modes, self.mode_names)
            ordered = [modes[name] for name in self.mode_names]
        else:
            ordered = list(modes)
        if len(ordered) != len(self.mode_names):
            raise ValueError(
                f"expected {len(self.mode_names)} modes ({', '.join(self.mode_names)}), "
                f"got {len(ordered)}."
            )
        dtype, device = self.input_dtype()
        converted = []
        for name, shape, x in zip(self.mode_names, self.mode_shapes, ordered, strict=True):
            expected = f"[N, {', '.join(map(str, shape))}]"
            tensor = as_model_input(x, f"mode {name!r}", expected, dtype, device)
            if tuple(tensor.shape[1:]) != shape or tensor.dim() == 0:
                raise ValueError(
                    f"mode {name!r} has shape {tuple(tensor.shape)} ({_dtype_of(x)}); the spec "
                    f"declares samples of shape {shape}, so pass {expected}."
                )
            converted.append(tensor)
        n = converted[0].shape[0]
        for name, tensor in zip(self.mode_names, converted, strict=True):
            if tensor.shape[0] != n:
                raise ValueError(
                    f"mode {name!r} has {tensor.shape[0]} samples but mode "
                    f"{self.mode_names[0]!r} has {n}; every mode needs the same samples."
                )
        return converted

    # -- stage 1 ---------------------------------------------------------------------------
    def fit_estimators(
        self, modes: ModesInput, progress: bool = True, *, missing: Tensor | None = None
    ) -> EmmaModel:
        """Stage 1: fit each mode's estimator on clean samples of its mode, then freeze it.

        ``missing`` ``[N, M]`` marks absent modes: each estimator fits only the rows where
        its mode is present. ``modes`` may also be one `Rows` per mode (streamed samples).
        Also hands the fitted minima to the correction stage. Returns ``self``.
        """
        if self.attention is None:
            raise ValueError(
                "this model was built with attention disabled, so it has no estimators to fit."
            )
        estimators = cast(list[EnergyEstimator], list(self.attention.estimators))
        given = list(modes) if isinstance(modes, Sequence) else []
        streamed = bool(given) and all(isinstance(x, Rows) for x in given)
        xs: list[Any] = given if streamed else self.as_modes(modes)
        for i, (estimator, x) in enumerate(zip(estimators, xs, strict=True)):
            if missing is not None:
                x = x[~missing[:, i].to(x.device)]
            estimator.fit(x, progress=progress)
            estimator.requires_grad_(False)
            estimator.eval()
        self.attention.calibrate_()
        return self

    # -- forward ---------------------------------------------------------------------------
    def forward(self, modes: ModesInput, missing: Tensor | None = None) -> EmmaOutput:
        """Logits and the attention report; ``missing`` ``[N, M]`` marks absent modes."""
        xs = self.as_modes(modes)
        if missing is not None and not isinstance(missing, Tensor):
            missing = torch.as_tensor(np.asarray(missing, dtype=bool))
        if self.attention is None:
            if missing is not None:
                xs = zero_missing(xs, checked_missing(xs, missing))
            return EmmaOutput(self.network(xs), None)
        report = self.attention.evaluate(xs, missing)
        if self.apply_to == "inputs":
            return EmmaOutput(self.network(self.attention.apply(xs, report)), report)
        network: Any = self.network  # has encode() and fuse(), checked by the builder
        xs = zero_missing(xs, report.missing)  # invalid values never reach the encoders
        weighted = self.attention.apply(network.encode(xs), report)
        return EmmaOutput(network.fuse(weighted), report)


def check_mode_names(given: Mapping[str, Any], names: Sequence[str]) -> None:
    """Refuse modes by name that are not exactly ``names``, listing what is missing and
    what is unknown (a `ValueError`)."""
    unknown = sorted(set(given) - set(names))
    absent = [name for name in names if name not in given]
    if unknown or absent:
        raise ValueError(
            f"modes by name must be exactly {', '.join(names)}; "
            f"missing {absent or 'none'}, unknown {unknown or 'none'}."
        )


def _is_frame(data: object) -> bool:
    pandas = sys.modules.get("pandas")  # a frame exists only if pandas was imported
    return pandas is not None and isinstance(data, pandas.DataFrame)


def _dtype_of(data: object) -> str:
    dtype = getattr(data, "dtype", None)
    return f"dtype {dtype}" if dtype is not None else type(data).__name__


def as_model_input(
    data: object, what: str, expected: str, dtype: torch.dtype, device: torch.device
) -> Tensor:
    """``data`` (a tensor, numpy array, DataFrame or nested lists of real numbers) as a
    tensor of ``dtype`` on ``device``; a `TypeError` naming ``what`` when it holds no real
    numbers. A tensor already of that dtype and device is returned as it is."""
    if isinstance(data, Tensor):
        tensor = data
    else:
        if _is_frame(data):
            data = cast(Any, data).to_numpy()
        if not isinstance(data, np.ndarray | list | tuple | np.generic):
            raise TypeError(
                f"{what} is a {type(data).__name__}; expected a tensor, numpy array or nested "
                f"lists of real numbers, {expected}."
            )
        try:
            array = np.asarray(data)
        except ValueError as err:  # ragged nested lists
            raise TypeError(
                f"{what} cannot be read as an array of numbers ({err}); expected {expected}."
            ) from err
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"{what} has numpy dtype {array.dtype} (shape {array.shape}); expected real "
                f"numbers (float, int or bool), {expected}."
            )
        if array.dtype not in _NUMPY_FLOATS:
            array = array.astype(np.float64)
        tensor = torch.from_numpy(np.require(array, requirements=["C", "W"]))  # 0-d stays 0-d
    if tensor.is_complex():
        raise TypeError(
            f"{what} has dtype {tensor.dtype} (shape {tuple(tensor.shape)}); expected real "
            f"numbers (float, int or bool), {expected}."
        )
    return tensor.to(device=device, dtype=dtype)
