"""Importance and attention versus noise (thesis figures 6.3-6.6): does EMMA shift its
attention away from a failing mode, and where?

For the emma model, the mean importance alpha and attention beta of every mode are recorded as
noise on one mode sweeps up, and over a grid of noise levels on the first two modes
(figure 6.4). The *shift point* is the lowest level at which the noisy mode's mean beta
falls below the best other mode's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from emma_lab.analyses.common import (
    DEFAULT_SIGMAS,
    attention_model,
    blocks,
    format_sigma,
    forward_with_report,
    mean_std,
    seed_count,
    sigma_levels,
    sigma_matrix,
    subsample,
    write_csv,
)
from emma_lab.experiments.comparison import SeedOutcome
from emma_lab.experiments.protocol import SeedData, noise_grid
from emma_lab.report.analysis_figures import plot_bands, plot_surfaces
from emma_lab.report.tables import to_markdown
from emma_lab.spec import EMMA
from emma_plugins.attention import AttentionReport
from emma_plugins.training.batches import TensorSplit

QUANTITIES = {"importance": "importance α", "attention": "attention β"}


def mean_scores(report: AttentionReport, n_blocks: int) -> dict[str, np.ndarray]:
    """Per block and mode, the mean over samples of alpha and beta: ``(S, M)`` each."""
    return {
        name: blocks(getattr(report, name).numpy(), n_blocks).mean(axis=1) for name in QUANTITIES
    }


def noisy_mean_scores(
    model: nn.Module, test: TensorSplit, sigmas: np.ndarray, seed: int
) -> dict[str, np.ndarray]:
    """`mean_scores` of ``model`` on ``test`` with noise levels ``sigmas`` ``(S, M)``: one
    block of noisy copies per row (`noise_grid`, drawn with ``seed``)."""
    _, report = forward_with_report(model, noise_grid(test, sigmas, seed))
    return mean_scores(report, len(sigmas))


def plot_quantity_bands(
    frame: pd.DataFrame,
    path: Path,
    *,
    x: str,
    group: str,
    group_prefix: str,
    xlabel: str,
    mode_names: Sequence[str],
) -> Path:
    """Mean alpha and beta of every mode against ``x``: a row of panels per quantity, a
    panel per value of the ``group`` column (titled ``<quantity>, <group_prefix><value>``)."""
    long = frame.melt(
        id_vars=["seed", group, x, "mode"], value_vars=list(QUANTITIES), var_name="quantity"
    )
    long["panel"] = long["quantity"].map(QUANTITIES) + ", " + group_prefix + long[group]
    return plot_bands(
        long,
        path,
        x=x,
        y="value",
        panel="panel",
        line="mode",
        ylabel="mean score",
        xlabel=xlabel,
        line_order=mode_names,
        ylim=(0.0, 1.0),
        rows=len(QUANTITIES),
    )


@dataclass
class AttentionNoiseResult:
    """``curves``: per seed, noisy mode, sigma and mode, mean alpha and beta;
    ``surface``: per seed, (sigma_a, sigma_b) and mode, mean alpha and beta;
    ``shifts``: per seed and noisy mode, the shift point (NaN when none in the grid);
    ``capacity``: per seed, the learned gate capacity (NaN if the gate has none)."""

    curves: pd.DataFrame
    surface: pd.DataFrame
    shifts: pd.DataFrame
    capacity: pd.DataFrame


class AttentionNoiseAnalysis:
    """Figures 6.3-6.6; call it per seed (``on_seed``), then `results`, `write`, `markdown`.

    :param sigmas: noise levels of the one-mode sweeps (0 is always added).
    :param surface_sigmas: levels of each axis of the two-mode grid (``()`` skips it).
    :param table_sigmas: levels shown in the report's tables.
    """

    name = "attention_noise"

    def __init__(
        self,
        mode_names: Sequence[str],
        *,
        sigmas: Sequence[float] = DEFAULT_SIGMAS,
        surface_sigmas: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0),
        table_sigmas: Sequence[float] = (0.5, 2.0),
        model: str = EMMA,
        max_rows: int | None = 1000,
    ) -> None:
        self.mode_names = list(mode_names)
        self.table_sigmas = sorted({float(s) for s in table_sigmas if s > 0})
        self.levels = sigma_levels(sigmas, include=self.table_sigmas)
        self.surface_levels = (
            sigma_levels(surface_sigmas) if len(surface_sigmas) and len(mode_names) >= 2 else None
        )
        self.model, self.max_rows = model, max_rows
        self._curves: list[pd.DataFrame] = []
        self._surface: list[pd.DataFrame] = []
        self._capacity: list[dict[str, Any]] = []

    # -- collection ------------------------------------------------------------------------
    def __call__(self, data: SeedData, outcome: SeedOutcome) -> None:
        model, attention = attention_model(outcome, self.model)
        test = subsample(data.clean["test"], self.max_rows, data.seed)
        names, n_modes, n_levels = self.mode_names, len(self.mode_names), len(self.levels)
        sweep = np.concatenate([sigma_matrix(self.levels, n_modes, [i]) for i in range(n_modes)])
        means = {
            k: v.reshape(n_modes, n_levels, n_modes)
            for k, v in noisy_mean_scores(model, test, sweep, data.seed * 37).items()
        }
        noisy, level, mode = np.meshgrid(
            np.arange(n_modes), np.arange(n_levels), np.arange(n_modes), indexing="ij"
        )
        self._curves.append(
            pd.DataFrame(
                {
                    "seed": data.seed,
                    "model": self.model,
                    "noisy_mode": np.asarray(names)[noisy.ravel()],
                    "sigma": self.levels[level.ravel()],
                    "mode": np.asarray(names)[mode.ravel()],
                    **{k: v.ravel() for k, v in means.items()},
                }
            )
        )
        if self.surface_levels is not None:
            self._collect_surface(data, model, test, self.surface_levels)
        try:
            capacity = float(attention.capacity().detach())
        except AttributeError:
            capacity = float("nan")  # a gate kind without a capacity
        self._capacity.append({"seed": data.seed, "model": self.model, "capacity": capacity})

    def _collect_surface(
        self, data: SeedData, model: nn.Module, test: TensorSplit, levels: np.ndarray
    ) -> None:
        a, b = np.meshgrid(levels, levels, indexing="ij")
        grid = np.zeros((a.size, len(self.mode_names)), dtype=np.float32)
        grid[:, 0], grid[:, 1] = a.ravel(), b.ravel()
        means = noisy_mean_scores(model, test, grid, data.seed * 41)
        n_points, n_modes = len(grid), len(self.mode_names)
        self._surface.append(
            pd.DataFrame(
                {
                    "seed": data.seed,
                    "model": self.model,
                    "sigma_a": np.repeat(grid[:, 0], n_modes),
                    "sigma_b": np.repeat(grid[:, 1], n_modes),
                    "mode": np.tile(self.mode_names, n_points),
                    **{k: v.ravel() for k, v in means.items()},
                }
            )
        )

    # -- outputs ---------------------------------------------------------------------------
    def results(self) -> AttentionNoiseResult:
        curves = pd.concat(self._curves, ignore_index=True) if self._curves else pd.DataFrame()
        surface = pd.concat(self._surface, ignore_index=True) if self._surface else pd.DataFrame()
        return AttentionNoiseResult(
            curves, surface, shift_points(curves), pd.DataFrame(self._capacity)
        )

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """CSV files and figures ``attention_vs_noise.png`` and ``attention_surface.png``."""
        out, result = Path(out_dir), self.results()
        paths = {
            "curves": write_csv(out / "attention_noise_curves.csv", result.curves),
            "shifts": write_csv(out / "attention_shifts.csv", result.shifts),
        }
        paths["figure"] = plot_quantity_bands(
            result.curves,
            out / "attention_vs_noise.png",
            x="sigma",
            group="noisy_mode",
            group_prefix="noise on ",
            xlabel="noise sigma on one mode",
            mode_names=self.mode_names,
        )
        if not result.surface.empty:
            paths["surface"] = write_csv(out / "attention_surface.csv", result.surface)
            paths["surface_figure"] = plot_surfaces(
                result.surface,
                out / "attention_surface.png",
                x="sigma_a",
                y="sigma_b",
                value="attention",
                panel="mode",
                xlabel=f"noise sigma on {self.mode_names[0]}",
                ylabel=f"noise sigma on {self.mode_names[1]}",
                colorbar_label="mean attention β",
                panel_title="attention β of {}",
                panel_order=self.mode_names,
                vmin=0.0,
                vmax=1.0,
            )
        return paths

    def markdown(self, figure_dir: str) -> str:
        result = self.results()
        seeds = seed_count(result.curves)
        lines = [
            "## Importance and attention versus noise (figures 6.3-6.6)",
            "",
            f"Model `{self.model}`, test split with Gaussian noise on one mode; mean over test "
            f"samples, then mean ± std over {seeds} seeds. Learned capacity: "
            f"{mean_std(result.capacity['capacity'])}.",
            "",
        ]
        for quantity, label in QUANTITIES.items():
            lines += [f"Mean {label} per mode:", "", self._table(result.curves, quantity), ""]
        lines += [
            "Shift point: the lowest noise level at which the noisy mode's mean attention falls "
            "below the best other mode's by more than 0.001 (seeds with a shift in the grid):",
            "",
            _shift_table(result.shifts, self.mode_names),
            "",
            f"![importance and attention versus noise]({figure_dir}/attention_vs_noise.png)",
            "",
        ]
        if not result.surface.empty:
            lines += [
                f"Attention of each mode over noise on {self.mode_names[0]} and "
                f"{self.mode_names[1]} (figure 6.4, seen from above):",
                "",
                f"![attention surface]({figure_dir}/attention_surface.png)",
                "",
            ]
        return "\n".join(lines)

    def _table(self, curves: pd.DataFrame, quantity: str) -> str:
        clean = curves[np.isclose(curves["sigma"], 0.0)].drop_duplicates(["seed", "mode"])
        parts = [clean.assign(condition="clean")]
        for noisy in self.mode_names:
            for sigma in self.table_sigmas:
                chosen = curves[(curves.noisy_mode == noisy) & np.isclose(curves.sigma, sigma)]
                parts.append(chosen.assign(condition=f"{noisy} σ={format_sigma(sigma)}"))
        rows = pd.concat(parts, ignore_index=True)
        cells = rows.groupby(["condition", "mode"], sort=False)[quantity].agg(mean_std)
        return to_markdown(cells.unstack("mode")[self.mode_names], "noise")


def shift_points(curves: pd.DataFrame, tolerance: float = 1e-3) -> pd.DataFrame:
    """Per seed and noisy mode, the lowest sigma where the noisy mode's mean attention is
    below the best other mode's by more than ``tolerance`` (NaN when it never is on the
    grid); the tolerance keeps equal attentions (a cold gate, float noise) from counting."""
    columns = ["seed", "noisy_mode", "shift_sigma"]
    if curves.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (seed, noisy), part in curves.groupby(["seed", "noisy_mode"], sort=False):
        beta = part.pivot_table(index="sigma", columns="mode", values="attention").sort_index()
        others = beta.drop(columns=[noisy]).max(axis=1)
        below = beta.index[(beta[noisy] < others - tolerance).to_numpy()]
        rows.append((seed, noisy, float(below[0]) if len(below) else float("nan")))
    return pd.DataFrame(rows, columns=columns)


def _shift_table(shifts: pd.DataFrame, modes: Sequence[str]) -> str:
    rows = {}
    for mode in modes:
        values = shifts.loc[shifts.noisy_mode == mode, "shift_sigma"].to_numpy(dtype=float)
        found = int(np.isfinite(values).sum())
        rows[mode] = {
            "shift sigma": mean_std(values),
            "seeds with a shift": f"{found}/{len(values)}",
        }
    return to_markdown(pd.DataFrame.from_dict(rows, orient="index"), "noisy mode")
