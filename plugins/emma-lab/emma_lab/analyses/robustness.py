"""Robustness generalisation (thesis figures 6.8-6.10): does EMMA's robustness hold for
noise levels it was never trained on?

Every trained model of a seed (early_fusion, noise_augmentation, emma, variants) is scored
at its validation threshold on the test split with noise on ONE mode, from 0 to far beyond
the training level. Each curve is summarised by its normalised area (its mean height over
the grid), and the areas are compared across seeds: emma against noise_augmentation and
early_fusion, variants against emma.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emma_lab.analyses.common import (
    DEFAULT_SIGMAS,
    block_metric,
    blocks,
    chosen_models,
    forward,
    mean_std,
    normalised_area,
    seed_count,
    sigma_levels,
    sigma_matrix,
    subsample,
    write_csv,
)
from emma_lab.experiments.comparison import SeedOutcome
from emma_lab.experiments.protocol import SeedData, noise_grid
from emma_lab.metrics.metrics import metric_name
from emma_lab.metrics.stats import PairedComparison, compare
from emma_lab.report.analysis_figures import plot_bands
from emma_lab.report.tables import to_markdown
from emma_lab.spec import EARLY_FUSION, EMMA, NOISE_AUGMENTATION


@dataclass
class RobustnessResult:
    """``curves``: per seed, model, noisy mode and sigma, the task metric; ``areas``: per
    seed, model and mode, the normalised area under the curve; paired ``comparisons``."""

    curves: pd.DataFrame
    areas: pd.DataFrame
    comparisons: list[PairedComparison]
    metric: str


class RobustnessAnalysis:
    """Figures 6.8-6.10; call it per seed (``on_seed``), then `results`, `write`, `markdown`.

    :param models: models to score (default: every model of the seed, in its order).
    :param reference: the model compared against ``baselines`` on each mode's area; models
        named ``reference[variant]`` are compared against ``reference``.
    """

    name = "robustness"

    def __init__(
        self,
        mode_names: Sequence[str],
        *,
        sigmas: Sequence[float] = DEFAULT_SIGMAS,
        models: Sequence[str] | None = None,
        reference: str = EMMA,
        baselines: Sequence[str] = (NOISE_AUGMENTATION, EARLY_FUSION),
        max_rows: int | None = None,
    ) -> None:
        self.mode_names = list(mode_names)
        self.levels = sigma_levels(sigmas)
        self.models = None if models is None else list(models)
        self.reference, self.baselines = reference, list(baselines)
        self.max_rows = max_rows
        self.metric = "metric"
        self._curves: list[pd.DataFrame] = []

    def __call__(self, data: SeedData, outcome: SeedOutcome) -> None:
        names = chosen_models(outcome, self.models)
        test = subsample(data.clean["test"], self.max_rows, data.seed)
        n_modes, n_levels = len(self.mode_names), len(self.levels)
        sweep = np.concatenate([sigma_matrix(self.levels, n_modes, [i]) for i in range(n_modes)])
        noisy = noise_grid(test, sweep, data.seed * 47)  # the same inputs for every model
        y = test.y.cpu().numpy()
        mode_index, level_index = np.meshgrid(
            np.arange(n_modes), np.arange(n_levels), indexing="ij"
        )
        for name in names:
            scores = blocks(forward(outcome.models[name], noisy)[0], len(sweep))
            binary = scores.ndim == 2
            self.metric = metric_name(scores.ndim - 1)
            values = block_metric(y, scores, outcome.thresholds[name], binary=binary)
            self._curves.append(
                pd.DataFrame(
                    {
                        "seed": data.seed,
                        "model": name,
                        "mode": np.asarray(self.mode_names)[mode_index.ravel()],
                        "sigma": self.levels[level_index.ravel()],
                        "value": values,
                    }
                )
            )

    # -- outputs ---------------------------------------------------------------------------
    def results(self) -> RobustnessResult:
        curves = pd.concat(self._curves, ignore_index=True) if self._curves else pd.DataFrame()
        areas = curve_areas(curves)
        return RobustnessResult(curves, areas, self._comparisons(areas), self.metric)

    def _comparisons(self, areas: pd.DataFrame) -> list[PairedComparison]:
        return area_comparisons(
            areas,
            self.mode_names,
            reference=self.reference,
            baselines=self.baselines,
            condition=lambda mode: f"the area under {self.metric} with noise on {mode}",
        )

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """CSV files and the figure ``robustness.png``."""
        out, result = Path(out_dir), self.results()
        return {
            "curves": write_csv(out / "robustness_curves.csv", result.curves),
            "areas": write_csv(out / "robustness_areas.csv", result.areas),
            "figure": plot_bands(
                result.curves,
                out / "robustness.png",
                x="sigma",
                y="value",
                panel="mode",
                line="model",
                ylabel=result.metric,
                xlabel="noise sigma on one mode",
                panel_title="noise on {}",
                panel_order=self.mode_names,
                ylim=(0.0, 1.0),
            ),
        }

    def markdown(self, figure_dir: str) -> str:
        result = self.results()
        seeds = seed_count(result.areas)
        low, high = self.levels[0], self.levels[-1]
        table = (
            result.areas.groupby(["model", "mode"], sort=False)["area"]
            .agg(mean_std)
            .unstack("mode")
        )
        table = table[[m for m in self.mode_names if m in table.columns]]
        table = table.reindex(list(dict.fromkeys(result.curves["model"])))
        lines = [
            "## Robustness generalisation (figures 6.8-6.10)",
            "",
            f"Every model at its validation threshold, test split with Gaussian noise on one "
            f"mode from sigma {low:g} to {high:g} ({len(self.levels)} levels). Area: the "
            f"trapezoid area under the {result.metric} curve divided by the grid's width (the "
            f"curve's mean height); mean ± std over {seeds} seeds.",
            "",
            to_markdown(table, "model"),
            "",
            f"![robustness generalisation]({figure_dir}/robustness.png)",
            "",
            *area_comparison_lines(result.comparisons),
        ]
        return "\n".join([*lines, ""])


def area_pairs(
    models: Sequence[str], reference: str, baselines: Sequence[str]
) -> list[tuple[str, str]]:
    """``(reference, baseline)`` for each baseline present, then ``(reference[v], reference)``
    for each variant of the reference."""
    if reference not in models:
        return []
    pairs = [(reference, b) for b in baselines if b in models]
    prefix = f"{reference}["
    return pairs + [(m, reference) for m in models if m.startswith(prefix)]


def area_comparisons(
    areas: pd.DataFrame,
    mode_names: Sequence[str],
    *,
    reference: str,
    baselines: Sequence[str],
    condition: Callable[[str], str],
) -> list[PairedComparison]:
    """Paired comparisons (over seeds) of the curve areas on each mode: the reference
    against each baseline, each of its variants against it; ``condition(mode)`` labels them."""
    if areas.empty:
        return []
    out = []
    for a, b in area_pairs(list(dict.fromkeys(areas["model"])), reference, baselines):
        for mode in mode_names:
            chosen = areas[areas["mode"] == mode].pivot_table(
                index="seed", columns="model", values="area"
            )
            if chosen.empty:
                continue
            out.append(
                compare(chosen[a].tolist(), chosen[b].tolist(), a=a, b=b, condition=condition(mode))
            )
    return out


def area_comparison_lines(comparisons: Sequence[PairedComparison]) -> list[str]:
    """The report's verdicts on the areas: a heading, a blank line, a bullet per comparison."""
    return [
        "Paired comparisons of the areas (per-seed differences, 95% t-interval):",
        "",
        *[f"- **{c.label}**: {c.sentence()}" for c in comparisons],
    ]


def curve_areas(curves: pd.DataFrame, x: str = "sigma") -> pd.DataFrame:
    """Per seed, model and mode, the normalised area of ``value`` over ``x`` (any monotone
    grid: the area is the curve's mean height, whichever way the levels run)."""
    columns = ["seed", "model", "mode", "area"]
    if curves.empty:
        return pd.DataFrame(columns=columns)
    wide = curves.pivot_table(index=["seed", "model", "mode"], columns=x, values="value")
    wide = wide.sort_index(axis=1)
    areas = normalised_area(wide.columns.to_numpy(dtype=float), wide.to_numpy())
    frame: Any = wide.index.to_frame(index=False)
    return frame.assign(area=areas)[columns]
