"""`EmmaModel`: the attention module in front of a multi-modal network, as one nn.Module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, cast

import numpy as np
from torch import Tensor, nn

from emma_plugins.attention import AttentionReport, EnergyAttention
from emma_plugins.attention.module import checked_missing, zero_missing
from emma_plugins.estimators import EnergyEstimator, as_tensor
from emma_plugins.spec import EmmaSpec

ModesInput = Mapping[str, Tensor] | Sequence[Tensor] | Tensor | np.ndarray


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

    @property
    def estimators(self) -> nn.ModuleList:
        """One energy estimator per mode (empty without attention)."""
        return self.attention.estimators if self.attention is not None else nn.ModuleList()

    # -- inputs ----------------------------------------------------------------------------
    def split(self, x: Tensor | np.ndarray) -> list[Tensor]:
        """Cut a ``[N, sum of mode sizes]`` table into the modes, in spec order, reshaped."""
        x = as_tensor(x) if isinstance(x, np.ndarray) else x
        sizes = [mode.size for mode in self.spec.modes]
        if x.dim() != 2 or x.shape[1] != sum(sizes):
            layout = " + ".join(f"{n} {s}" for n, s in zip(self.mode_names, sizes, strict=True))
            raise ValueError(
                f"split expects a [N, {sum(sizes)}] tensor ({layout} columns, in spec order); "
                f"got shape {tuple(x.shape)}."
            )
        parts = x.split(sizes, dim=1)
        return [
            part.reshape(-1, *shape) for part, shape in zip(parts, self.mode_shapes, strict=True)
        ]

    def as_modes(self, modes: ModesInput) -> list[Tensor]:
        """Modes in spec order from a mapping by name, a sequence, or one 2-D table."""
        if isinstance(modes, Tensor | np.ndarray):
            return self.split(modes)
        if isinstance(modes, Mapping):
            unknown = sorted(set(modes) - set(self.mode_names))
            absent = [name for name in self.mode_names if name not in modes]
            if unknown or absent:
                raise ValueError(
                    f"modes by name must be exactly {', '.join(self.mode_names)}; "
                    f"missing {absent or 'none'}, unknown {unknown or 'none'}."
                )
            ordered = [modes[name] for name in self.mode_names]
        else:
            ordered = list(modes)
        if len(ordered) != len(self.mode_names):
            raise ValueError(
                f"expected {len(self.mode_names)} modes ({', '.join(self.mode_names)}), "
                f"got {len(ordered)}."
            )
        for name, shape, x in zip(self.mode_names, self.mode_shapes, ordered, strict=True):
            if tuple(x.shape[1:]) != shape:
                raise ValueError(
                    f"mode {name!r} has shape {tuple(x.shape)}; the spec declares samples of "
                    f"shape {shape}, so pass [N, {', '.join(map(str, shape))}]."
                )
        return ordered

    # -- stage 1 ---------------------------------------------------------------------------
    def fit_estimators(self, modes: ModesInput, progress: bool = True) -> EmmaModel:
        """Stage 1: fit each mode's estimator on clean samples of its mode, then freeze it.

        Also hands the fitted minima to the correction stage. Returns ``self``.
        """
        if self.attention is None:
            raise ValueError(
                "this model was built with attention disabled, so it has no estimators to fit."
            )
        estimators = cast(list[EnergyEstimator], list(self.attention.estimators))
        for estimator, x in zip(estimators, self.as_modes(modes), strict=True):
            estimator.fit(x, progress=progress)
            estimator.requires_grad_(False)
            estimator.eval()
        self.attention.calibrate_()
        return self

    # -- forward ---------------------------------------------------------------------------
    def forward(self, modes: ModesInput, missing: Tensor | None = None) -> EmmaOutput:
        """Logits and the attention report; ``missing`` ``[N, M]`` marks absent modes."""
        xs = self.as_modes(modes)
        if self.attention is None:
            if missing is not None:
                xs = zero_missing(xs, checked_missing(xs, missing))
            return EmmaOutput(self.network(xs), None)
        report = self.attention.evaluate(xs, missing)
        if self.apply_to == "inputs":
            return EmmaOutput(self.network(self.attention.apply(xs, report)), report)
        network: Any = self.network  # has encode() and fuse(), checked by the builder
        weighted = self.attention.apply(network.encode(xs), report)
        return EmmaOutput(network.fuse(weighted), report)
