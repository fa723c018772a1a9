"""Writes the grid's results: the validation ranking (CSV), the top configurations' test
reruns (CSV), a heat map of the validation scores and a Markdown report, atomically.

Everything in the report is computed from the results; nothing is typed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emma_lab.experiments.comparison import conditions
from emma_lab.grid.search import GridResult
from emma_lab.report.atomic import save_figure, write_atomic
from emma_lab.report.table_report import EVALUATIONS
from emma_lab.report.tables import evaluation_tables, to_markdown
from emma_lab.spec import EARLY_FUSION, EMMA, NOISE_AUGMENTATION

#: Columns of the ranking table in the report (the CSV has every column).
_RANKING_COLUMNS = ("rank", "rho", "lambda_e", "lambda_c", "val_loss", "val_metric")


def _write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def plot_grid(selection: pd.DataFrame, path: Path, *, metric: str) -> Path:
    """Small multiples, one panel per lambda_c: validation loss over rho x lambda_e, each
    cell annotated with the validation metric; the top configuration is framed."""
    rhos = sorted(selection["rho"].unique())
    energies = sorted(selection["lambda_e"].unique())
    capacities = sorted(selection["lambda_c"].unique())
    low, high = float(selection["val_loss"].min()), float(selection["val_loss"].max())
    best = selection.iloc[0]
    fig, axes = plt.subplots(
        1,
        len(capacities),
        figsize=(0.9 * len(energies) * len(capacities) + 2.5, 0.7 * len(rhos) + 1.8),
        squeeze=False,
    )
    image = None
    for ax, lambda_c in zip(axes[0], capacities, strict=True):
        part = selection[selection["lambda_c"] == lambda_c]
        loss = part.pivot(index="rho", columns="lambda_e", values="val_loss")
        loss = loss.reindex(index=rhos, columns=energies)
        score = part.pivot(index="rho", columns="lambda_e", values="val_metric")
        score = score.reindex(index=rhos, columns=energies)
        image = ax.imshow(loss.to_numpy(), cmap="viridis_r", vmin=low, vmax=high, aspect="auto")
        for (i, j), value in np.ndenumerate(score.to_numpy()):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w")
        if best["lambda_c"] == lambda_c:
            i, j = rhos.index(best["rho"]), energies.index(best["lambda_e"])
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2))
        ax.set_xticks(range(len(energies)), [f"{v:g}" for v in energies], rotation=45)
        ax.set_yticks(range(len(rhos)), [f"{v:g}" for v in rhos])
        ax.set_xlabel("lambda_e")
        ax.set_title(f"lambda_c = {lambda_c:g}", fontsize=9)
    axes[0][0].set_ylabel("rho")
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label="validation loss (lower is better)")
    fig.suptitle(f"Validation loss (colour) and validation {metric} (text); red: rank 1")
    saved = save_figure(fig, path)
    plt.close(fig)
    return saved


def _ranking_markdown(selection: pd.DataFrame, metric: str) -> str:
    table = selection[list(_RANKING_COLUMNS)].set_index("rank")
    table = table.rename(columns={"val_loss": "val loss", "val_metric": f"val {metric}"})
    shown = table.map(lambda v: f"{v:.4g}" if isinstance(v, float) else str(v))
    return to_markdown(shown, "rank")


def render_grid_report(
    result: GridResult, *, figure: str, setup: Mapping[str, Any], title: str
) -> str:
    """The Markdown report: setup, criterion, the validation ranking, the top
    configurations' test tables (mean ± std over the rerun seeds) and every verdict."""
    reruns = result.reruns
    n_seeds = reruns.scores["seed"].nunique()
    lines = [f"# {title}", "", "## Setup", ""]
    lines += [f"- {key}: `{value}`" for key, value in setup.items()]
    lines += [
        "",
        "## Selection on validation data",
        "",
        f"Each configuration is trained once on the selection seed and ranked by the "
        f"{result.criterion}. The test split plays no part in the ranking.",
        "",
        f"![validation scores over the grid]({figure})",
        "",
        _ranking_markdown(result.selection, result.metric),
        "",
        f"## Top {len(result.top)} configurations on test, over {n_seeds} new seeds",
        "",
        f"Metric: **{result.metric}**, mean ± std over the rerun seeds ({EARLY_FUSION} and "
        f"{NOISE_AUGMENTATION} trained on the same seeds, splits and corruptions).",
        "",
    ]
    models = [EARLY_FUSION, NOISE_AUGMENTATION, *[p.model_name for p in result.top]]
    columns = conditions(reruns.mode_names)
    lines += evaluation_tables(
        reruns.scores, EVALUATIONS, models=models, conditions=columns, heading="###"
    )
    lines += [
        f"## Paired comparisons with {NOISE_AUGMENTATION}",
        "",
        "Per-seed differences, their mean and 95% t-interval. *Beats* means the interval "
        "excludes 0 on the positive side, *loses to* on the negative side; otherwise *ties*.",
        "",
    ]
    lines += [f"- **{c.label}**: {c.sentence()}" for c in reruns.comparisons]
    return "\n".join(lines) + "\n"


def write_grid_outputs(
    result: GridResult,
    out_dir: str | Path,
    *,
    setup: Mapping[str, Any],
    title: str = f"Hyperparameter grid of {EMMA}",
) -> dict[str, Path]:
    """Write ``grid.csv``, ``grid_top.csv``, ``grid.png`` and ``grid.md`` into ``out_dir``."""
    out = Path(out_dir)
    paths = {"csv": _write_text(out / "grid.csv", result.selection.to_csv(index=False))}
    paths["top_csv"] = _write_text(out / "grid_top.csv", result.reruns.scores.to_csv(index=False))
    paths["figure"] = plot_grid(result.selection, out / "grid.png", metric=result.metric)
    report = render_grid_report(result, figure=paths["figure"].name, setup=setup, title=title)
    paths["report"] = _write_text(out / "grid.md", report)
    return paths
