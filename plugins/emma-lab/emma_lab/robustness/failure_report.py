"""The report's part on failures nobody trained for: outcome, mean ranks, areas per kind,
detection and attention per kind, and two figures (ranks, metric against severity)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd
from matplotlib.figure import Figure

from emma_lab.metrics.stats import MIN_SEEDS_FOR_VERDICT, verdict_cell
from emma_lab.report.analysis_figures import plot_bands
from emma_lab.report.atomic import save_figure, write_text
from emma_lab.report.tables import mean_std_table, to_markdown
from emma_lab.robustness.failures import CLEAN_TOLERANCE, FailureSummary, failure_scores
from emma_lab.robustness.run import BenchResult


def _summary(result: BenchResult) -> FailureSummary:
    if result.failures is None:
        raise ValueError(f"{result.name}: no unanticipated failures were tested")
    return result.failures


def rank_table(result: BenchResult) -> pd.DataFrame:
    """Every method's mean rank over the failure conditions, best first, with its interval."""
    ranks = sorted(_summary(result).ranks, key=lambda r: r.mean)
    return pd.DataFrame(
        {
            "mean rank": [f"{r.mean:.2f}" for r in ranks],
            "95% bootstrap interval": [f"[{r.low:.2f}, {r.high:.2f}]" for r in ranks],
        },
        index=[r.method for r in ranks],
    )


def area_table(result: BenchResult) -> pd.DataFrame:
    """Kind and count of failing modes x methods: the area over severities (mean ± std over
    seeds), with each EMMA variant's verdict against the best peer."""
    summary = _summary(result)
    areas = summary.areas
    table = mean_std_table(
        areas,
        index="label",
        columns="method",
        value="area",
        index_order=list(dict.fromkeys(areas["label"])),
        column_order=result.methods,
    )
    cells: dict[str, dict[str, str]] = {}
    for c in summary.comparisons:
        cells.setdefault(f"{c.a} vs {c.b}", {})[c.condition.removeprefix("area:")] = verdict_cell(c)
    return table.join(pd.DataFrame(cells).reindex(table.index))


def per_kind_table(result: BenchResult, metric: str, methods: list[str]) -> pd.DataFrame:
    """One failing mode at a time: ``metric`` per kind and method, mean ± std over seeds
    (each seed's value is the mean over severities and modes)."""
    rows = failure_scores(result.scores)
    rows = rows[(rows["count"] == 1) & rows["method"].isin(methods)].dropna(subset=[metric])
    if rows.empty:
        return pd.DataFrame()
    per_seed = rows.groupby(["seed", "method", "kind"], sort=False)[metric].mean().reset_index()
    return mean_std_table(
        per_seed,
        index="kind",
        columns="method",
        value=metric,
        index_order=list(dict.fromkeys(rows["kind"])),
        column_order=methods,
    )


def outcome_lines(result: BenchResult) -> list[str]:
    """One sentence per EMMA variant: rank difference, clean cost, recommended or not."""
    summary = _summary(result)
    lines = []
    for o in summary.outcomes:
        r = o.rank_diff
        verdict = (
            "**recommended**"
            if o.recommended
            else "not recommended"
            + (
                f" (loses {-o.clean_diff:.4f} on clean data)"
                if o.clean_diff < -CLEAN_TOLERANCE
                else ""
            )
            + (" (rank interval includes 0 or is worse)" if r.high >= 0 else "")
            + (
                f" (fewer than {MIN_SEEDS_FOR_VERDICT} seeds)"
                if r.high < 0 and o.clean_diff >= -CLEAN_TOLERANCE
                else ""
            )
        )
        lines.append(
            f"- `{o.method}`: mean rank {r.mean:+.2f} [{r.low:+.2f}, {r.high:+.2f}] against "
            f"`{summary.peer}` (negative: better), clean {result.metric} {o.clean_diff:+.4f}: "
            f"{verdict}"
        )
    return lines


def plot_ranks(result: BenchResult, path: Path) -> Path:
    """Mean rank of every method with its bootstrap interval, best at the top."""
    ranks = sorted(_summary(result).ranks, key=lambda r: -r.mean)
    figure = Figure(figsize=(6.0, 0.4 * len(ranks) + 1.2))
    axes = figure.subplots()
    y = range(len(ranks))
    means = [r.mean for r in ranks]
    errors = [[r.mean - r.low for r in ranks], [r.high - r.mean for r in ranks]]
    colours = ["tab:red" if r.method in result.emma_methods else "tab:blue" for r in ranks]
    axes.errorbar(means, list(y), xerr=errors, fmt="none", ecolor="grey", capsize=3)
    axes.scatter(means, list(y), c=colours, zorder=3)
    axes.set_yticks(list(y), [r.method for r in ranks])
    axes.set_xlabel("mean rank over the unanticipated failures (1 = best)")
    axes.set_title(f"{result.name}: red = EMMA, blue = alternatives", fontsize="small")
    axes.grid(alpha=0.3, axis="x")
    figure.tight_layout()
    return save_figure(figure, path)


def severity_frame(result: BenchResult) -> pd.DataFrame:
    """Per seed, method, kind and severity step (1 = mildest): the metric with one failing
    mode, averaged over the modes; kinds without severities are left out."""
    rows = failure_scores(result.scores)
    rows = rows[(rows["count"] == 1) & rows["level"].notna()]
    per_level = rows.groupby(["seed", "method", "kind", "level"], sort=False)["score"].mean()
    frame = per_level.reset_index()
    order = {
        kind: list(dict.fromkeys(part["level"])) for kind, part in rows.groupby("kind", sort=False)
    }
    frame["step"] = [
        order[k].index(v) + 1 for k, v in zip(frame["kind"], frame["level"], strict=True)
    ]
    return frame


def plot_severities(result: BenchResult, path: Path) -> Path:
    """One panel per failure kind: the metric against the severity step of every EMMA
    variant, the best peer and noise augmentation (at most ten lines, ten colours)."""
    shown = list(dict.fromkeys([result.best_peer, "noise_augmentation", *result.emma_methods]))
    frame = severity_frame(result)
    frame = frame[frame["method"].isin(shown)]
    kinds = list(dict.fromkeys(frame["kind"]))
    return plot_bands(
        frame,
        path,
        x="step",
        y="score",
        panel="kind",
        line="method",
        ylabel=result.metric,
        xlabel="severity (1 = mildest)",
        panel_order=kinds,
        line_order=shown,
        rows=2 if len(kinds) > 3 else 1,
    )


def write_failure_files(result: BenchResult, out: Path) -> dict[str, Path]:
    """``failure_areas.csv``, ``failure_ranks.csv`` and the two figures, in ``out``."""
    paths = {
        "failure_areas_csv": write_text(out / "failure_areas.csv", area_table(result).to_csv()),
        "failure_ranks_csv": write_text(out / "failure_ranks.csv", rank_table(result).to_csv()),
        "failure_ranks_png": plot_ranks(result, out / "failure_ranks.png"),
    }
    if not severity_frame(result).empty:
        paths["failure_severity_png"] = plot_severities(result, out / "failure_severity.png")
    return paths


def failure_section(result: BenchResult, figures: dict[str, str]) -> list[str]:
    """Markdown lines of the section (``figures``: relative paths by file key)."""
    summary = _summary(result)
    n_conditions = failure_scores(result.scores)["condition"].nunique()
    lines = [
        "### Failures nobody trained for",
        "",
        f"{n_conditions} failure conditions (each kind at each severity, on one mode at a "
        "time and on several at once). Training, model selection and thresholds saw only the "
        "training corruption. Mean rank among all methods (1 = best), bootstrap over seeds; "
        f"a variant is recommended when its mean rank beats `{summary.peer}` (interval below "
        f"0) and it loses at most {CLEAN_TOLERANCE} {result.metric} on clean data.",
        "",
        *outcome_lines(result),
        "",
        to_markdown(rank_table(result), "method"),
        "",
        f"![mean ranks]({figures['failure_ranks_png']})",
        "",
        f"Area over severities ({result.metric}; mean over severities and modes), with each "
        f"EMMA variant against `{summary.peer}` paired over seeds:",
        "",
        to_markdown(area_table(result), "failure"),
        "",
    ]
    if "failure_severity_png" in figures:
        lines += [f"![{result.metric} against severity]({figures['failure_severity_png']})", ""]
    detection = per_kind_table(result, "detection_auroc", result.methods)
    if not detection.empty:
        lines += [
            "Which mode failed: AUROC of each method's per-mode quality score for the failed "
            "mode against the same mode on clean test data (one mode at a time):",
            "",
            to_markdown(detection, "kind"),
            "",
        ]
    attention = per_kind_table(result, "failed_importance", result.emma_methods)
    if not attention.empty:
        lines += [
            "EMMA's importance of the failed mode times the number of modes (1: attention "
            "stays uniform, 0: the mode is ignored):",
            "",
            to_markdown(attention, "kind"),
            "",
        ]
    return lines
