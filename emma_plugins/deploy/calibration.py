"""Failure thresholds: per-mode potentials and the total energy, calibrated on clean data.

A mode counts as failed when its corrected potential exceeds the ``1 - false_alarm_rate``
quantile of that potential on clean validation rows; the sample counts as uncertain when its
total energy exceeds the same quantile of the total energy. So about ``false_alarm_rate`` of
clean rows raise each flag, whatever the data's scale. The rates actually observed, on clean
validation and on the corrupted validation mix, are recorded beside the thresholds.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from emma_plugins.assembly.deployment import Thresholds
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.attention import AttentionReport
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loop import batches_of, chunks


@torch.no_grad()
def reports(
    model: EmmaModel, split: TensorSplit, batch_size: int = 4096
) -> tuple[AttentionReport, Tensor]:
    """The attention report of every row of ``split`` (evaluation mode, in batches; an
    in-memory or a streamed split), and which of its modes were corrupted ``[N, M]``."""
    model.eval()
    if model.attention is None:
        raise ValueError("calibration needs a model with attention enabled.")
    parts, corrupted = [], []
    for _, batch in batches_of(split, chunks(split, batch_size)):
        parts.append(model.attention.evaluate(batch.modes, batch.missing).detach())
        corrupted.append(batch.corrupted)
    fields = parts[0].__dataclass_fields__
    report = AttentionReport(**{f: torch.cat([getattr(p, f) for p in parts]) for f in fields})
    return report, torch.cat(corrupted)


def calibrate(
    model: EmmaModel,
    clean_val: TensorSplit,
    false_alarm_rate: float,
    *,
    mixed_val: TensorSplit | None = None,
) -> Thresholds:
    """Thresholds at the ``1 - false_alarm_rate`` quantiles of clean validation energies."""
    names = list(model.mode_names)
    clean, _ = reports(model, clean_val)
    potential = clean.potential.double().numpy()
    total = clean.total_energy.double().numpy()
    q = 1.0 - false_alarm_rate
    limits = {name: float(np.quantile(potential[:, i], q)) for i, name in enumerate(names)}
    total_limit = float(np.quantile(total, q))
    thresholds = Thresholds(
        false_alarm_rate=false_alarm_rate,
        energy="potential",
        modes=limits,
        total=total_limit,
        n_rows=len(clean_val),
    )
    observed = {"clean_val": _rates(clean, thresholds, names, None)}
    if mixed_val is not None:
        mixed, corrupted = reports(model, mixed_val)
        observed["mixed_val"] = _rates(mixed, thresholds, names, corrupted)
    return thresholds.model_copy(update={"observed": observed})


def _rates(
    report: AttentionReport,
    thresholds: Thresholds,
    names: list[str],
    corrupted: torch.Tensor | None,
) -> dict[str, float]:
    """Flag rates per mode: on clean rows (false alarms) and, where known, on corrupted rows
    of that mode (detections)."""
    limits = torch.tensor([thresholds.modes[n] for n in names], dtype=report.potential.dtype)
    limits = limits.to(report.potential.device)
    flagged = report.missing | (report.potential > limits)
    clean_rows = torch.ones_like(flagged) if corrupted is None else ~corrupted
    rates: dict[str, float] = {}
    for i, name in enumerate(names):
        if bool(clean_rows[:, i].any()):
            rates[f"{name}_false_alarm"] = float(flagged[clean_rows[:, i], i].double().mean())
        if corrupted is not None and bool(corrupted[:, i].any()):
            rates[f"{name}_detected"] = float(flagged[corrupted[:, i], i].double().mean())
    rates["uncertain"] = float((report.total_energy > thresholds.total).double().mean())
    return rates


__all__ = ["calibrate", "reports"]
