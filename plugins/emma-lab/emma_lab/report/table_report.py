"""Writes experiment 1's results: CSV, JSON, a figure and a Markdown report, atomically.

Everything in the report is computed from the results; nothing is typed by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emma_lab.experiments.comparison import TableResult
from emma_lab.report.atomic import save_figure, write_atomic
from emma_lab.report.tables import evaluation_tables, to_markdown

EVALUATIONS = {
    "thesis_split": "Thesis evaluation: the corrupted 50/25/25 test split, each part scored",
    "full_test": (
        "Lower-variance evaluation: the whole test split per condition, noise draws averaged"
    ),
}


def _write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def _model_order(result: TableResult) -> list[str]:
    return list(dict.fromkeys(result.scores["model"]))


def _conditions(result: TableResult) -> list[str]:
    """Every scored condition, in the order the evaluation produced them."""
    return [str(c) for c in dict.fromkeys(result.scores["condition"])]


def plot_table(result: TableResult, path: Path) -> Path:
    """One panel per evaluation: mean score per condition and model, with std error bars."""
    evaluations = [e for e in EVALUATIONS if e in set(result.scores["evaluation"])]
    models, conditions = _model_order(result), _conditions(result)
    fig, axes = plt.subplots(1, len(evaluations), figsize=(6 * len(evaluations), 4), squeeze=False)
    width = 0.8 / max(len(models), 1)
    for ax, evaluation in zip(axes[0], evaluations, strict=True):
        part = result.scores[result.scores.evaluation == evaluation]
        stats = part.groupby(["model", "condition"])["value"].agg(["mean", "std"]).fillna(0.0)
        for k, model in enumerate(models):
            means = [stats["mean"].get((model, c), np.nan) for c in conditions]
            stds = [stats["std"].get((model, c), 0.0) for c in conditions]
            xs = np.arange(len(conditions)) + (k - (len(models) - 1) / 2) * width
            ax.bar(xs, means, width, yerr=stds, capsize=2, label=model)
        ax.set_xticks(np.arange(len(conditions)), conditions, rotation=15)
        ax.set_ylabel(result.metric)
        ax.set_title(evaluation.replace("_", " "))
        ax.set_ylim(0, 1)
    axes[0][0].legend(fontsize="small", loc="lower left")
    fig.tight_layout()
    saved = save_figure(fig, path)
    plt.close(fig)
    return saved


def render_report(
    result: TableResult,
    *,
    title: str,
    figure: str,
    setup: Mapping[str, Any],
    extra_sections: Sequence[str] = (),
) -> str:
    """The Markdown report: setup, one table per evaluation, diagnostics and every verdict,
    then ``extra_sections`` (Markdown, e.g. the noise analyses), each after a blank line."""
    n_seeds = result.scores["seed"].nunique()
    lines = [
        f"# {title}",
        "",
        f"Metric: **{result.metric}**, mean ± std over {n_seeds} seeds "
        "(same splits, corruptions and noise for every model of a seed).",
        "",
    ]
    lines += ["## Setup", ""] + [f"- {key}: `{value}`" for key, value in setup.items()] + [""]
    models, conditions = _model_order(result), _conditions(result)
    lines += evaluation_tables(result.scores, EVALUATIONS, models=models, conditions=conditions)
    lines += [f"![scores per condition]({figure})", ""]
    diag = (
        result.diagnostics.drop(columns=["seed"])
        .groupby("model", sort=False)
        .mean(numeric_only=True)
    )
    lines += [
        "## Diagnostics (mean over seeds)",
        "",
        to_markdown(diag.map(lambda v: f"{v:.4g}"), "model"),
        "",
        *_kept_start_warning(result.diagnostics),
    ]
    lines += [
        "## Paired comparisons",
        "",
        "Per-seed differences, their mean and 95% t-interval. *Beats* means the interval "
        "excludes 0 on the positive side, *loses to* on the negative side; otherwise *ties*.",
        "",
    ]
    lines += [f"- **{c.label}**: {c.sentence()}" for c in result.comparisons]
    for section in extra_sections:
        lines += ["", section.rstrip("\n")]
    return "\n".join(lines) + "\n"


def _kept_start_warning(diagnostics: pd.DataFrame) -> list[str]:
    """A warning naming every model and seed whose training never improved validation loss
    (best epoch 0), so its scores are those of its starting weights, not of a trained model."""
    if "best_epoch" not in diagnostics:
        return []
    kept = diagnostics[diagnostics["best_epoch"] == 0]
    if kept.empty:
        return []
    named = ", ".join(f"{row.model} (seed {row.seed})" for row in kept.itertuples())
    return [
        f"> **Warning: {len(kept)} model(s) kept their starting weights**: {named}. No epoch "
        "improved their validation loss (best epoch 0), so their rows score the starting "
        "weights. Check the learning rate and the data.",
        "",
    ]


def write_table_outputs(
    result: TableResult,
    out_dir: str | Path,
    *,
    title: str,
    setup: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    extra_sections: Sequence[str] = (),
) -> dict[str, Path]:
    """Write ``results.csv``, ``results.json``, ``table.png`` and ``report.md`` into ``out_dir``;
    ``extra_sections`` are appended to the report (see `render_report`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"figure": plot_table(result, out / "table.png")}
    paths["csv"] = _write_text(out / "results.csv", result.scores.to_csv(index=False))
    payload = {
        "metric": result.metric,
        "modes": result.mode_names,
        "setup": dict(setup),
        "summary": result.summary().to_dict(orient="records"),
        "comparisons": [c.as_dict() for c in result.comparisons],
        "diagnostics": result.diagnostics.to_dict(orient="records"),
        "scores": result.scores.to_dict(orient="records"),
        **(dict(extra) if extra else {}),
    }
    paths["json"] = _write_text(out / "results.json", json.dumps(payload, indent=2, default=str))
    report = render_report(
        result,
        title=title,
        figure=paths["figure"].name,
        setup=setup,
        extra_sections=extra_sections,
    )
    paths["report"] = _write_text(out / "report.md", report)
    return paths
