"""What every noise analysis shares: the collector protocol, fan-out, sweeps and areas.

An analysis is a callable collector: `run_table` hands it each seed's data and trained
models (``on_seed``), it keeps tidy rows, and afterwards it returns frames, writes CSV and
figures, and renders its report section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from emma_lab.experiments.comparison import SeedCallback, SeedOutcome
from emma_lab.experiments.protocol import SeedData
from emma_lab.report.atomic import write_atomic
from emma_plugins.attention import AttentionReport, EnergyAttention
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loss import positive_scores

#: Noise levels of the sweeps: from clean to six times the training noise of 0.5.
DEFAULT_SIGMAS: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 3.0, 13), 4).tolist())


@runtime_checkable
class Analysis(Protocol):
    """A per-seed collector with its outputs (see the module docstring)."""

    name: str

    def __call__(self, data: SeedData, outcome: SeedOutcome) -> None: ...

    def results(self) -> Any:
        """Frames (and comparisons) of the seeds collected so far."""

    def write(self, out_dir: str | Path) -> dict[str, Path]: ...

    def markdown(self, figure_dir: str) -> str: ...


def fan_out(collectors: Sequence[SeedCallback]) -> SeedCallback:
    """One ``on_seed`` callback that hands each seed to every collector, in order."""
    chosen = list(collectors)

    def call_all(data: SeedData, outcome: SeedOutcome) -> None:
        for collector in chosen:
            collector(data, outcome)

    return call_all


def sigma_levels(sigmas: Sequence[float], *, include: Sequence[float] = ()) -> np.ndarray:
    """Sorted unique noise levels, with 0 and ``include`` added; all must be >= 0."""
    levels = np.unique(
        np.round(np.r_[0.0, np.asarray(sigmas, float), np.asarray(include, float)], 6)
    )
    if levels[0] < 0:
        raise ValueError(f"noise levels must be >= 0, got {levels[0]}.")
    if len(levels) < 2:
        raise ValueError("give at least one noise level above 0.")
    return levels


def normalised_area(sigmas: Sequence[float] | np.ndarray, values: np.ndarray) -> np.ndarray:
    """Trapezoid area under ``values`` (last axis) over ``sigmas``, divided by the grid's
    width: the curve's mean height, so a metric in [0, 1] keeps an area in [0, 1]."""
    xs = np.asarray(sigmas, dtype=float)
    ys = np.asarray(values, dtype=float)
    if xs.ndim != 1 or len(xs) < 2 or ys.shape[-1] != len(xs):
        raise ValueError(
            f"need at least two sigmas and one value per sigma; got {len(xs)} sigmas and "
            f"values of shape {ys.shape}."
        )
    if np.any(np.diff(xs) <= 0):
        raise ValueError("sigmas must be strictly increasing.")
    widths = np.diff(xs)
    return ((ys[..., 1:] + ys[..., :-1]) / 2 * widths).sum(axis=-1) / (xs[-1] - xs[0])


def subsample(split_: TensorSplit, max_rows: int | None, seed: int) -> TensorSplit:
    """At most ``max_rows`` rows of the split, a seeded random choice (all if ``None``),
    drawn on the CPU (the same rows on every device)."""
    if max_rows is None or len(split_) <= max_rows:
        return split_
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(split_), generator=generator)[:max_rows].sort().values
    return split_.take(index.to(split_.y.device))


def sigma_matrix(levels: np.ndarray, n_modes: int, modes: Sequence[int]) -> np.ndarray:
    """``(S, M)`` noise levels: ``levels`` on each of ``modes``, 0 on the others."""
    matrix = np.zeros((len(levels), n_modes), dtype=np.float32)
    matrix[:, list(modes)] = np.asarray(levels, dtype=np.float32)[:, None]
    return matrix


@torch.no_grad()
def forward(
    model: nn.Module, split_: TensorSplit, batch_size: int = 8192
) -> tuple[np.ndarray, AttentionReport | None]:
    """Class scores (as `protocol.predict`) and the concatenated attention report, both on
    the CPU whatever the device of the model and the split."""
    model.eval()
    scores, reports = [], []
    for index in torch.arange(len(split_), device=split_.y.device).split(batch_size):
        part = split_.take(index)
        output = model(part.modes, part.missing)
        scores.append(positive_scores(output.output))
        if output.report is not None:
            reports.append(output.report.detach())
    joined = _cat_reports(reports) if reports else None
    return torch.cat(scores).cpu().numpy(), joined


def forward_with_report(
    model: nn.Module, split_: TensorSplit
) -> tuple[np.ndarray, AttentionReport]:
    """`forward` for an EMMA model, whose output must carry an attention report."""
    scores, report = forward(model, split_)
    if report is None:
        raise ValueError(f"{type(model).__name__} returned no attention report; use an EMMA model.")
    return scores, report


def _cat_reports(reports: list[AttentionReport]) -> AttentionReport:
    values: dict[str, Tensor] = {
        f.name: torch.cat([getattr(r, f.name) for r in reports]).cpu() for f in fields(reports[0])
    }
    return AttentionReport(**values)


def chosen_models(outcome: SeedOutcome, models: Sequence[str] | None) -> list[str]:
    """``models`` (default: every model of the seed, in its order), each of which the seed
    must have."""
    names = list(outcome.models) if models is None else list(models)
    absent = [name for name in names if name not in outcome.models]
    if absent:
        raise KeyError(f"no model(s) {absent} in this seed; models: {list(outcome.models)}.")
    return names


def attention_model(outcome: SeedOutcome, name: str) -> tuple[nn.Module, EnergyAttention]:
    """The trained model ``name`` of a seed and its attention module (which it must have)."""
    if name not in outcome.models:
        raise KeyError(f"no model {name!r} in this seed; models: {', '.join(outcome.models)}.")
    model = outcome.models[name]
    attention = getattr(model, "attention", None)
    if not isinstance(attention, EnergyAttention):
        raise ValueError(f"model {name!r} has no attention module; pick an EMMA model.")
    return model, attention


def predictions(scores: np.ndarray, threshold: float, *, binary: bool) -> np.ndarray:
    """Predicted classes: ``score >= threshold`` (binary, ``(..., N)``) or the arg-max
    class (``(..., N, K)``)."""
    return (scores >= threshold).astype(int) if binary else scores.argmax(axis=-1)


def block_metric(
    y: np.ndarray, scores: np.ndarray, threshold: float, *, binary: bool
) -> np.ndarray:
    """`evaluation.metrics.task_metric` of every block of a sweep at once.

    ``scores`` is ``(..., N)`` when ``binary`` (F1 of class 1 at ``threshold``, 0 when
    undefined, as scikit-learn's ``zero_division=0``) or ``(..., N, K)`` (accuracy); the
    result has the leading shape ``...``.
    """
    predicted = predictions(scores, threshold, binary=binary)
    if not binary:
        return (predicted == y).mean(axis=-1)
    truth = np.broadcast_to(y == 1, predicted.shape)
    hit = predicted == 1
    tp = (hit & truth).sum(axis=-1)
    denominator = 2 * tp + (hit != truth).sum(axis=-1)
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def blocks(values: np.ndarray, n_blocks: int) -> np.ndarray:
    """``(S*N, ...)`` rows of a stacked sweep as ``(S, N, ...)``."""
    return values.reshape(n_blocks, -1, *values.shape[1:])


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    return write_atomic(path, lambda h: h.write(frame.to_csv(index=False).encode("utf-8")))


def seed_count(frame: pd.DataFrame) -> int:
    """How many seeds a tidy frame with a ``seed`` column holds (0 when it is empty)."""
    return frame["seed"].nunique() if not frame.empty else 0


def mean_std(values: pd.Series | np.ndarray | Sequence[float], digits: int = 3) -> str:
    """``"mean ± std"`` over seeds (std 0 for one seed); ``"n/a"`` when nothing is finite."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    if len(array) == 0:
        return "n/a"
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return f"{array.mean():.{digits}f} ± {std:.{digits}f}"


def format_sigma(sigma: float) -> str:
    return f"{sigma:g}"
