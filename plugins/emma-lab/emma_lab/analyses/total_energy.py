"""Total energy as uncertainty (thesis figure 6.7): does the sum of modal energies track
how wrong the model gets?

Every mode of the test split gets Gaussian noise of the same level; per level, the mean
total energy of the emma model and its task metric are recorded, and the per-sample AUROC of
the total energy for flagging the model's own errors (at its validation threshold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emma_lab.analyses.common import (
    DEFAULT_SIGMAS,
    attention_model,
    block_metric,
    blocks,
    format_sigma,
    forward_with_report,
    mean_std,
    predictions,
    seed_count,
    sigma_levels,
    sigma_matrix,
    subsample,
    write_csv,
)
from emma_lab.experiments.comparison import SeedOutcome
from emma_lab.experiments.protocol import SeedData, noise_grid
from emma_lab.metrics.metrics import detection_auroc, metric_name
from emma_lab.report.analysis_figures import plot_twin_bands
from emma_lab.report.tables import to_markdown
from emma_lab.spec import EMMA


@dataclass
class TotalEnergyResult:
    """``curves``: per seed and sigma, the mean and std of the total energy, the task
    metric, the error rate and the error-detection AUROC; ``summary``: per seed, the AUROC
    pooled over every noisy level and the correlation of mean energy with the metric."""

    curves: pd.DataFrame
    summary: pd.DataFrame
    metric: str


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


class TotalEnergyAnalysis:
    """Figure 6.7; call it per seed (``on_seed``), then `results`, `write`, `markdown`."""

    name = "total_energy"

    def __init__(
        self,
        mode_names: Sequence[str],
        *,
        sigmas: Sequence[float] = DEFAULT_SIGMAS,
        model: str = EMMA,
        max_rows: int | None = None,
    ) -> None:
        self.mode_names = list(mode_names)
        self.levels = sigma_levels(sigmas)
        self.model, self.max_rows = model, max_rows
        self.metric = "metric"
        self._curves: list[dict[str, Any]] = []
        self._summary: list[dict[str, Any]] = []

    def __call__(self, data: SeedData, outcome: SeedOutcome) -> None:
        model, _ = attention_model(outcome, self.model)
        threshold = outcome.thresholds[self.model]
        test = subsample(data.clean["test"], self.max_rows, data.seed)
        n_modes, n_levels = len(self.mode_names), len(self.levels)
        sweep = sigma_matrix(self.levels, n_modes, range(n_modes))
        scores, report = forward_with_report(model, noise_grid(test, sweep, data.seed * 43))
        energy = blocks(report.total_energy.numpy(), n_levels)
        scores = blocks(scores, n_levels)
        y, binary = test.y.cpu().numpy(), scores.ndim == 2
        self.metric = metric_name(scores.ndim - 1)
        metric = block_metric(y, scores, threshold, binary=binary)
        wrong = predictions(scores, threshold, binary=binary) != y
        for s, sigma in enumerate(self.levels):
            self._curves.append(
                {
                    "seed": data.seed,
                    "model": self.model,
                    "sigma": float(sigma),
                    "total_energy": float(energy[s].mean()),
                    "total_energy_std": float(energy[s].std()),
                    "metric": float(metric[s]),
                    "error_rate": float(wrong[s].mean()),
                    "error_auroc": detection_auroc(energy[s][~wrong[s]], energy[s][wrong[s]]),
                }
            )
        noisy_energy, noisy_wrong = energy[1:].ravel(), wrong[1:].ravel()
        mine = [row for row in self._curves if row["seed"] == data.seed]
        self._summary.append(
            {
                "seed": data.seed,
                "model": self.model,
                "pooled_error_auroc": detection_auroc(
                    noisy_energy[~noisy_wrong], noisy_energy[noisy_wrong]
                ),
                "energy_metric_correlation": _correlation(
                    np.array([r["total_energy"] for r in mine]),
                    np.array([r["metric"] for r in mine]),
                ),
            }
        )

    def results(self) -> TotalEnergyResult:
        return TotalEnergyResult(
            pd.DataFrame(self._curves), pd.DataFrame(self._summary), self.metric
        )

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """CSV files and the figure ``total_energy.png``."""
        out, result = Path(out_dir), self.results()
        return {
            "curves": write_csv(out / "total_energy_curves.csv", result.curves),
            "summary": write_csv(out / "total_energy_summary.csv", result.summary),
            "figure": plot_twin_bands(
                result.curves,
                out / "total_energy.png",
                x="sigma",
                left="total_energy",
                right="metric",
                left_label="mean total energy",
                right_label=result.metric,
                title=f"model {self.model}: total energy and {result.metric}",
            ),
        }

    def markdown(self, figure_dir: str) -> str:
        result = self.results()
        curves, summary = result.curves, result.summary
        seeds = seed_count(summary)
        table = curves.groupby("sigma", sort=True).agg(
            **{
                "mean total energy": ("total_energy", mean_std),
                result.metric: ("metric", mean_std),
                "error rate": ("error_rate", mean_std),
                "error AUROC": ("error_auroc", mean_std),
            }
        )
        table.index = [format_sigma(s) for s in table.index]
        return "\n".join(
            [
                "## Total energy as uncertainty (figure 6.7)",
                "",
                f"Model `{self.model}` on the test split with the same Gaussian noise on every "
                f"mode; mean ± std over {seeds} seeds. *Error AUROC*: how well a sample's total "
                "energy flags the model's own mistakes (at its validation threshold).",
                "",
                to_markdown(table, "sigma"),
                "",
                "- error AUROC pooled over every noisy level: "
                f"{mean_std(summary['pooled_error_auroc'])}",
                f"- correlation of mean total energy with {result.metric} across levels: "
                f"{mean_std(summary['energy_metric_correlation'])}",
                "",
                f"![total energy versus noise]({figure_dir}/total_energy.png)",
                "",
            ]
        )
