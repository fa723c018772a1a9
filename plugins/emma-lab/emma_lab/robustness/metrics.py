"""What is measured per seed, method and condition, and the curves' summaries.

Per condition: the task metric (F1 at the method's validation threshold, or accuracy),
the expected calibration error of the fused prediction, the AUROC of the method's own
uncertainty for its own mistakes, and the AUROC of its per-mode quality for telling the
corrupted modes from the same modes of the clean test split. EMMA's quality is the
negative modal energy (higher energy = corrupted) and its uncertainty the total energy;
the peers' come from `emma_plugins.networks.interfaces`. A method without one gets NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from emma_lab.experiments.comparison import TrainedModel
from emma_lab.metrics.calibration import expected_calibration_error
from emma_lab.metrics.detection import corruption_detection_auroc, error_detection_auroc
from emma_lab.metrics.metrics import task_metric
from emma_lab.metrics.robustness import area_under_curve, effective_robustness
from emma_lab.robustness.protocol import Condition, noise_name
from emma_plugins.networks.interfaces import HasQualityScores, HasUncertainty
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loss import positive_scores

#: Metric columns of a condition row, with what the report calls them.
CONDITION_METRICS = {
    "score": "task metric",
    "ece": "expected calibration error (lower is better)",
    "detection_auroc": "AUROC of the per-mode quality for the corrupted modes",
    "error_auroc": "AUROC of the uncertainty for the method's own errors",
    "failed_importance": "EMMA's importance of the failed modes times the mode count "
    "(1: uniform, 0: ignored)",
}
#: Condition families on which corruption detection is measured (a missing mode is
#: already flagged by the mask, so detecting it says nothing).
DETECTED_FAMILIES = ("noise", "ood", "multi", "failure")


@dataclass(frozen=True)
class MethodOutputs:
    """Class scores ``(N,)`` or ``(N, K)``, quality ``(N, M)``, uncertainty ``(N,)`` and
    EMMA's importance ``(N, M)``."""

    scores: np.ndarray
    quality: np.ndarray | None
    uncertainty: np.ndarray | None
    importance: np.ndarray | None = None


def _batch_outputs(model: nn.Module, batch: TensorSplit) -> dict[str, Tensor]:
    out = model(batch.modes, batch.missing)
    found = {"scores": positive_scores(out.output)}
    if out.report is not None:
        found["quality"] = -out.report.modal_energy
        found["uncertainty"] = out.report.total_energy
        found["importance"] = out.report.importance
        return found
    network = getattr(model, "network", model)
    if isinstance(network, HasQualityScores):
        found["quality"] = network.quality_scores()
    if isinstance(network, HasUncertainty):
        found["uncertainty"] = network.uncertainty()
    return found


@torch.no_grad()
def method_outputs(model: nn.Module, split_: TensorSplit, batch_size: int = 8192) -> MethodOutputs:
    """One model's outputs on a whole split, in batches, in evaluation mode; NumPy arrays
    (on the CPU) whatever the device of the model and the split."""
    model.eval()
    index = torch.arange(len(split_), device=split_.y.device)
    parts = [_batch_outputs(model, split_.take(i)) for i in index.split(batch_size)]
    joined = {
        key: torch.cat([part[key] for part in parts]).detach().cpu().double().numpy()
        for key in parts[0]
    }
    return MethodOutputs(
        joined["scores"], joined.get("quality"), joined.get("uncertainty"), joined.get("importance")
    )


def detection_auroc(clean: MethodOutputs, outputs: MethodOutputs, corrupted: np.ndarray) -> float:
    """Mean over the corrupted modes of the AUROC of low quality for "this mode of this
    sample is corrupted", the clean test split's same mode as the negatives."""
    if clean.quality is None or outputs.quality is None or not corrupted.any():
        return float("nan")
    quality = np.concatenate([clean.quality, outputs.quality])
    mask = np.concatenate([np.zeros_like(corrupted), corrupted])
    hit = [m for m in range(corrupted.shape[1]) if corrupted[:, m].any()]
    return float(np.mean([corruption_detection_auroc(quality, mask, mode=m) for m in hit]))


def failed_importance(outputs: MethodOutputs, corrupted: np.ndarray) -> float:
    """Mean importance of the corrupted modes times the number of modes: 1 when attention
    stays uniform on them, 0 when it ignores them (NaN without importance or corruption)."""
    if outputs.importance is None or not corrupted.any():
        return float("nan")
    return float(outputs.importance[corrupted].mean() * corrupted.shape[1])


def condition_row(
    outputs: MethodOutputs, clean: MethodOutputs, condition: Condition, threshold: float
) -> dict[str, Any]:
    """The metrics of one method on one condition (see the module docstring)."""
    y = condition.split.y.cpu().numpy()
    corrupted = condition.split.corrupted.cpu().numpy()
    uncertainty = outputs.uncertainty
    detected = condition.family in DETECTED_FAMILIES and condition.kind != "missing"
    return {
        "condition": condition.name,
        "family": condition.family,
        "mode": condition.mode,
        "level": condition.level,
        "kind": condition.kind,
        "count": condition.count,
        "score": task_metric(y, outputs.scores, threshold),
        "ece": expected_calibration_error(outputs.scores, y),
        "detection_auroc": detection_auroc(clean, outputs, corrupted) if detected else float("nan"),
        "error_auroc": float("nan")
        if uncertainty is None
        else error_detection_auroc(uncertainty, outputs.scores, y, threshold),
        "failed_importance": failed_importance(outputs, corrupted)
        if condition.family not in ("clean", "missing") and condition.kind != "missing"
        else float("nan"),
    }


def score_methods(
    trained: Mapping[str, TrainedModel], conditions: Sequence[Condition], seed: int
) -> list[dict[str, Any]]:
    """Condition rows of every method of a seed (the first condition must be ``clean``)."""
    rows = []
    for name, item in trained.items():
        outputs = [method_outputs(item.model, c.split) for c in conditions]
        for condition, out in zip(conditions, outputs, strict=True):
            row = condition_row(out, outputs[0], condition, item.threshold)
            rows.append({"seed": seed, "method": name, **row})
    return rows


def robustness_frame(
    scores: pd.DataFrame,
    mode_names: Sequence[str],
    levels: Sequence[float],
    reference: str | None,
) -> pd.DataFrame:
    """Per seed, method and mode: the area under the metric-versus-noise curve (mean metric
    over the levels) and the effective robustness against ``reference`` (late fusion;
    NaN without one), both from `evaluation.robustness`."""
    wide = scores.pivot_table(index=["seed", "method"], columns="condition", values="score")
    keys = list(wide.index)
    rows = []
    for mode in mode_names:
        columns = ["clean", *[noise_name(mode, s) for s in levels[1:]]]
        curves = wide[columns].to_numpy()
        ref = {seed: curves[keys.index((seed, reference))] for seed, _ in keys} if reference else {}
        for (seed, method), values in zip(keys, curves, strict=True):
            rows.append(
                {
                    "seed": seed,
                    "method": method,
                    "mode": mode,
                    "area": area_under_curve(levels, values),
                    "effective_robustness": effective_robustness(levels, values, ref[seed])
                    if reference
                    else float("nan"),
                }
            )
    return pd.DataFrame(rows)
