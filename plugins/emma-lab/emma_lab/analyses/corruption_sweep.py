"""Robustness, attention and failure detection as one mode's corruption kind grows: pixel
noise on an image, white noise at a falling SNR on audio, or any registered kind.

The Gaussian analyses sweep ``sigma``; this one sweeps what a spec's ``evaluation.sweeps``
names (`CorruptionSweep`: a kind, the parameter that sets its strength, the levels). For
each sweep and seed it stacks the clean test split and one corrupted copy per level
(`sweeps.sweep_grid`) and, from one forward pass per model:

* every model's task metric per level, the curve's normalised area, and paired verdicts
  of the areas (emma against noise_augmentation and early_fusion, variants against emma);
* the mean importance alpha and attention beta of every mode, for every EMMA model;
* the AUROC of the swept mode's potential and of its gradient norm (from the emma model's
  fitted estimator) for telling each corrupted level from the clean split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import torch

from emma_lab.analyses.attention_noise import QUANTITIES, mean_scores, plot_quantity_bands
from emma_lab.analyses.common import (
    attention_model,
    block_metric,
    blocks,
    chosen_models,
    format_sigma,
    forward,
    mean_std,
    seed_count,
    subsample,
    write_csv,
)
from emma_lab.analyses.potential_noise import SCORES
from emma_lab.analyses.robustness import (
    area_comparison_lines,
    area_comparisons,
    curve_areas,
)
from emma_lab.experiments.comparison import SeedOutcome
from emma_lab.experiments.protocol import SeedData
from emma_lab.experiments.sweeps import CorruptionSweep, sweep_grid
from emma_lab.metrics.metrics import detection_auroc, metric_name
from emma_lab.metrics.stats import PairedComparison
from emma_lab.report.analysis_figures import plot_bands
from emma_lab.report.tables import to_markdown
from emma_lab.spec import EARLY_FUSION, EMMA, NOISE_AUGMENTATION
from emma_plugins.estimators import EnergyEstimator
from emma_plugins.training.batches import TensorSplit

CLEAN = "clean"


@dataclass
class CorruptionSweepResult:
    """Tidy frames, one row per seed and point (``sweep`` names the sweep, ``level`` is NaN
    on the clean split): ``curves`` (task metric per model), ``areas`` (per seed, model
    and sweep), ``attention`` (mean alpha and beta per EMMA model and mode), ``detection``
    (AUROC and mean of each score of the swept mode), and the paired ``comparisons``."""

    curves: pd.DataFrame
    areas: pd.DataFrame
    attention: pd.DataFrame
    detection: pd.DataFrame
    comparisons: list[PairedComparison]
    metric: str


class CorruptionSweepAnalysis:
    """Call it per seed (``on_seed``), then `results`, `write`, `markdown`.

    :param sweeps: the sweeps to run (one mode and kind each).
    :param models: models to score (default: every model of the seed).
    :param reference: compared against ``baselines``; ``reference[variant]`` against it.
    :param estimators_from: the model whose fitted estimators score the swept mode.
    :param max_rows: test rows per seed (a seeded random subset; ``None``: all).
    """

    name = "corruption_sweep"

    def __init__(
        self,
        mode_names: Sequence[str],
        sweeps: Sequence[CorruptionSweep],
        *,
        models: Sequence[str] | None = None,
        reference: str = EMMA,
        baselines: Sequence[str] = (NOISE_AUGMENTATION, EARLY_FUSION),
        estimators_from: str = EMMA,
        max_rows: int | None = None,
    ) -> None:
        self.mode_names = list(mode_names)
        self.sweeps = list(sweeps)
        unknown = [s.mode for s in self.sweeps if s.mode not in self.mode_names]
        if unknown:
            raise ValueError(f"sweeps name unknown mode(s) {unknown}; modes: {self.mode_names}.")
        self.sweep_names = [sweep_name(s) for s in self.sweeps]
        if len(set(self.sweep_names)) != len(self.sweep_names):
            raise ValueError(f"sweeps must differ in mode, kind or parameter: {self.sweep_names}.")
        self.models = None if models is None else list(models)
        self.reference, self.baselines = reference, list(baselines)
        self.estimators_from, self.max_rows = estimators_from, max_rows
        self.metric = "metric"
        self._curves: list[pd.DataFrame] = []
        self._attention: list[pd.DataFrame] = []
        self._detection: list[dict[str, Any]] = []

    # -- collection ------------------------------------------------------------------------
    def __call__(self, data: SeedData, outcome: SeedOutcome) -> None:
        names = chosen_models(outcome, self.models)
        test = subsample(data.clean["test"], self.max_rows, data.seed)
        _, attention = attention_model(outcome, self.estimators_from)
        estimators = cast(Sequence[EnergyEstimator], list(attention.estimators))
        for k, (sweep, label) in enumerate(zip(self.sweeps, self.sweep_names, strict=True)):
            grid = sweep_grid(test, self.mode_names, sweep, seed=data.seed * 53 + k)
            levels = np.r_[np.nan, np.asarray(sweep.levels, dtype=float)]
            point = {"seed": data.seed, "sweep": label, "swept_mode": sweep.mode}
            for name in names:
                self._score_model(point, name, outcome, grid, test.y.cpu().numpy(), levels)
            mode = self.mode_names.index(sweep.mode)
            self._detect(point, estimators[mode], grid.modes[mode], levels)

    def _score_model(
        self,
        point: dict[str, Any],
        name: str,
        outcome: SeedOutcome,
        grid: TensorSplit,
        y: np.ndarray,
        levels: np.ndarray,
    ) -> None:
        n_blocks = len(levels)
        raw, report = forward(outcome.models[name], grid)
        scores = blocks(raw, n_blocks)
        self.metric = metric_name(scores.ndim - 1)
        values = block_metric(y, scores, outcome.thresholds[name], binary=scores.ndim == 2)
        self._curves.append(
            pd.DataFrame({**point, "model": name, "level": levels, "value": values})
        )
        if report is None:
            return
        means = mean_scores(report, n_blocks)
        n_modes = len(self.mode_names)
        self._attention.append(
            pd.DataFrame(
                {
                    **point,
                    "model": name,
                    "level": np.repeat(levels, n_modes),
                    "mode": np.tile(self.mode_names, n_blocks),
                    **{q: v.ravel() for q, v in means.items()},
                }
            )
        )

    @torch.no_grad()
    def _detect(
        self,
        point: dict[str, Any],
        estimator: EnergyEstimator,
        x: torch.Tensor,
        levels: np.ndarray,
    ) -> None:
        scores = {
            k: v.cpu().numpy().reshape(len(levels), -1) for k, v in estimator.scores(x).items()
        }
        for score in SCORES:
            values = scores[score]
            for b, level in enumerate(levels):
                auroc = float("nan") if b == 0 else detection_auroc(values[0], values[b])
                self._detection.append(
                    {
                        **point,
                        "score": score,
                        "level": float(level),
                        "mean": float(values[b].mean()),
                        "auroc": auroc,
                    }
                )

    # -- outputs ---------------------------------------------------------------------------
    def results(self) -> CorruptionSweepResult:
        curves = pd.concat(self._curves, ignore_index=True) if self._curves else pd.DataFrame()
        attention = (
            pd.concat(self._attention, ignore_index=True) if self._attention else pd.DataFrame()
        )
        areas = _areas(curves)
        comparisons = area_comparisons(
            areas,
            self.sweep_names,
            reference=self.reference,
            baselines=self.baselines,
            condition=lambda sweep: f"the area under {self.metric} over {sweep}",
        )
        return CorruptionSweepResult(
            curves,
            areas.rename(columns={"mode": "sweep"}),
            attention,
            pd.DataFrame(self._detection),
            comparisons,
            self.metric,
        )

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """CSV files and figures ``sweep_robustness.png``, ``sweep_attention.png`` and
        ``sweep_detection.png``."""
        out, result = Path(out_dir), self.results()
        paths = {
            "curves": write_csv(out / "sweep_curves.csv", result.curves),
            "areas": write_csv(out / "sweep_areas.csv", result.areas),
            "detection": write_csv(out / "sweep_detection.csv", result.detection),
            "figure": plot_bands(
                result.curves.dropna(subset=["level"]),
                out / "sweep_robustness.png",
                x="level",
                y="value",
                panel="sweep",
                line="model",
                ylabel=result.metric,
                xlabel="level of the swept parameter",
                panel_order=self.sweep_names,
                ylim=(0.0, 1.0),
            ),
            "detection_figure": plot_bands(
                result.detection.dropna(subset=["auroc"]),
                out / "sweep_detection.png",
                x="level",
                y="auroc",
                panel="sweep",
                line="score",
                ylabel="AUROC, corrupted versus clean",
                xlabel="level of the swept parameter",
                panel_order=self.sweep_names,
                ylim=(0.0, 1.0),
            ),
        }
        if not result.attention.empty:
            paths["attention"] = write_csv(out / "sweep_attention.csv", result.attention)
            mine = result.attention[result.attention.model == self.reference].dropna(
                subset=["level"]
            )
            if not mine.empty:
                paths["attention_figure"] = plot_quantity_bands(
                    mine,
                    out / "sweep_attention.png",
                    x="level",
                    group="sweep",
                    group_prefix="",
                    xlabel="level of the swept parameter",
                    mode_names=self.mode_names,
                )
        return paths

    def markdown(self, figure_dir: str) -> str:
        result = self.results()
        seeds = seed_count(result.curves)
        lines = [
            "## Corruption-kind sweeps",
            "",
            f"Each sweep corrupts one mode of the test split with one kind at growing "
            f"strength (the clean split beside it); mean ± std over {seeds} seeds. Areas: the "
            f"mean height of the {result.metric} curve over the swept levels.",
            "",
        ]
        for sweep, label in zip(self.sweeps, self.sweep_names, strict=True):
            lines += self._sweep_section(result, sweep, label)
        lines += area_comparison_lines(result.comparisons)
        lines += [
            "",
            f"![metric over the sweeps]({figure_dir}/sweep_robustness.png)",
            "",
            f"![detection AUROC over the sweeps]({figure_dir}/sweep_detection.png)",
            "",
        ]
        if not result.attention.empty:
            lines += [f"![attention over the sweeps]({figure_dir}/sweep_attention.png)", ""]
        return "\n".join(lines)

    def _sweep_section(
        self, result: CorruptionSweepResult, sweep: CorruptionSweep, label: str
    ) -> list[str]:
        order = [CLEAN, *[_level_label(sweep, v) for v in sweep.levels]]

        def table(frame: pd.DataFrame, index: str, value: str) -> str:
            chosen = frame[frame.sweep == label].assign(
                column=lambda f: [_level_label(sweep, v) for v in f["level"]]
            )
            cells = chosen.groupby([index, "column"], sort=False)[value].agg(mean_std)
            wide = cells.unstack("column")
            return to_markdown(wide[[c for c in order if c in wide.columns]], index)

        lines = [f"### {label}", "", f"{result.metric} per model:", ""]
        lines += [table(result.curves, "model", "value"), ""]
        areas = result.areas[result.areas.sweep == label]
        area_cells = areas.groupby("model", sort=False)["area"].agg(mean_std)
        lines += [
            "Area per model: " + ", ".join(f"{model} {cell}" for model, cell in area_cells.items()),
            "",
            f"AUROC of the {sweep.mode} estimator's scores (model `{self.estimators_from}`) for "
            "telling each level from the clean split (0.5 = no signal):",
            "",
            table(result.detection.dropna(subset=["auroc"]), "score", "auroc"),
            "",
        ]
        if not result.attention.empty:
            swept = result.attention[result.attention["mode"] == sweep.mode]
            lines += [
                f"Mean attention β of {sweep.mode} (the swept mode) per EMMA model:",
                "",
                table(swept, "model", "attention"),
                "",
            ]
            mine = result.attention[result.attention.model == self.reference]
            for quantity, name in QUANTITIES.items():
                lines += [
                    f"Mean {name} of each mode, model `{self.reference}`:",
                    "",
                    table(mine, "mode", quantity),
                    "",
                ]
        return lines


def _areas(curves: pd.DataFrame) -> pd.DataFrame:
    """Curve areas per seed, model and sweep (``mode`` column), over the swept levels only;
    each sweep separately, since each has its own levels and units."""
    if curves.empty:
        return curve_areas(curves)
    swept = curves.dropna(subset=["level"]).rename(columns={"sweep": "mode"})
    parts = [curve_areas(part, x="level") for _, part in swept.groupby("mode", sort=False)]
    return pd.concat(parts, ignore_index=True)


def sweep_name(sweep: CorruptionSweep) -> str:
    """``mode: kind param``, how a sweep is named in tables and figures."""
    return f"{sweep.mode}: {sweep.label}"


def _level_label(sweep: CorruptionSweep, level: float) -> str:
    return CLEAN if not np.isfinite(level) else f"{sweep.param}={format_sigma(level)}"
