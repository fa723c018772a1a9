"""`RawInputModel`: raw readings in; predictions, attention and failure flags out.

A trained `EmmaModel` takes standardized modes. Deployed, it meets raw readings that may be
broken: a NaN, an infinity, or a value like 1e30 that overflows the estimators' squared
norms. This module wraps the model with what its `Deployment` record says: per mode, the
training scaler and the missing-value policy, and the failure thresholds. The same module
serves ``emma predict`` and ``emma export``, so an exported model behaves as predict does.

A reading is **invalid** when it is NaN, infinite, or more than `MAX_ABS_Z` training standard
deviations from the training mean. A mode with an invalid reading is masked as missing
(policies ``error`` and ``missing``) or has those readings replaced by the training mean
(``impute_mean``); either way it is flagged failed, and the sample's output stays finite.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from emma_plugins.assembly.deployment import Deployment
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.core.errors import NotFittedError

#: Standardized readings beyond this many training standard deviations are invalid: no
#: sensor reading is that far off, and squaring such values overflows float32.
MAX_ABS_Z = 1e4

#: What `RawInputModel.forward` returns, in this order (all ``[N, M]`` per mode unless noted).
OUTPUTS: tuple[str, ...] = (
    "output",  # logits [N, out_features]
    "probabilities",  # [N, n_classes]
    "potential",
    "importance",
    "attention",
    "failed",
    "total_energy",  # [N]
    "uncertain",  # [N]
)


def deployment_of(model: EmmaModel) -> Deployment:
    """The model's deployment record, or a `NotFittedError` saying how to get one."""
    if model.deployment is None:
        raise NotFittedError(
            "this model has no deployment record (columns, scaler, thresholds): train it "
            "with `emma fit` or emma_plugins.deploy.fit_model, then load the model directory."
        )
    return model.deployment


class RawInputModel(nn.Module):
    """The trained model behind its scaler, its invalid-reading guard and its thresholds."""

    def __init__(self, model: EmmaModel) -> None:
        super().__init__()
        deployment = deployment_of(model)
        if model.attention is None:
            raise NotFittedError("a deployed EMMA model needs attention enabled in its spec.")
        self.model = model
        self.mode_names = tuple(deployment.modes)
        self.binary = deployment.task == "binary"
        self.impute = [deployment.modes[m].on_missing == "impute_mean" for m in self.mode_names]
        for i, (shape, name) in enumerate(zip(model.mode_shapes, self.mode_names, strict=True)):
            info = deployment.modes[name]
            self.register_buffer(f"mean_{i}", torch.tensor(info.mean).reshape(shape))
            self.register_buffer(f"std_{i}", torch.tensor(info.std).reshape(shape))
        thresholds = deployment.thresholds
        inf = math.inf
        mode_limits = (
            [inf] * len(self.mode_names)
            if thresholds is None
            else [thresholds.modes[m] for m in self.mode_names]
        )
        self.register_buffer("mode_thresholds", torch.tensor(mode_limits))
        total = inf if thresholds is None else thresholds.total
        self.register_buffer("total_threshold", torch.tensor(total))
        first = next(model.parameters())
        self.to(device=first.device, dtype=first.dtype)

    def standardize(self, modes: list[Tensor]) -> tuple[list[Tensor], Tensor]:
        """Scaled modes with invalid readings made harmless, and which modes held any."""
        scaled, invalid = [], []
        for i, x in enumerate(modes):
            z = (x - getattr(self, f"mean_{i}")) / getattr(self, f"std_{i}")
            bad = ~torch.isfinite(z) | (z.abs() > MAX_ABS_Z)
            invalid.append(bad.flatten(1).any(dim=1))
            scaled.append(torch.where(bad, torch.zeros_like(z), z))
        return scaled, torch.stack(invalid, dim=1)

    def forward(self, modes: list[Tensor], missing: Tensor | None = None) -> tuple[Tensor, ...]:
        """The `OUTPUTS`, for raw modes in spec order and an optional ``[N, M]`` mask."""
        scaled, invalid = self.standardize(modes)
        masked = invalid & ~torch.tensor(self.impute, device=invalid.device)
        mask = masked if missing is None else masked | missing.to(torch.bool)
        out = self.model(scaled, mask)
        report = out.report
        assert report is not None
        logits = out.output
        if self.binary:
            positive = torch.sigmoid(logits[:, :1])
            probabilities = torch.cat([1 - positive, positive], dim=1)
        else:
            probabilities = torch.softmax(logits, dim=1)
        absent = report.missing | invalid
        failed = absent | (report.potential > self.mode_thresholds)
        uncertain = (report.total_energy > self.total_threshold) | failed.any(dim=1)
        return (
            logits,
            probabilities,
            report.potential,
            report.importance,
            report.attention,
            failed,
            report.total_energy,
            uncertain,
        )


__all__ = ["MAX_ABS_Z", "OUTPUTS", "RawInputModel", "deployment_of"]
