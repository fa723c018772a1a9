"""The benchmark's outputs: side-by-side tables (CSV and Markdown), curves, JSON and a
report that says plainly where EMMA wins, ties and loses against the best peer.

Everything is computed from the results and written atomically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from emma_lab.metrics.stats import (
    MIN_SEEDS_FOR_VERDICT,
    PairedComparison,
    compare,
    verdict_cell,
)
from emma_lab.report.analysis_figures import plot_bands
from emma_lab.report.atomic import write_text
from emma_lab.report.tables import mean_std_table, to_markdown
from emma_lab.robustness.failure_report import failure_section, write_failure_files
from emma_lab.robustness.failures import summarise_failures, summary_payload
from emma_lab.robustness.metrics import CONDITION_METRICS
from emma_lab.robustness.run import BenchResult
from emma_lab.robustness.selection import ROBUSTNESS_MEASURES, compare_with_peer
from emma_plugins.rundir import inside

#: Shown where a method has no such measurement (no quality score, no uncertainty).
NOT_APPLICABLE = "—"
VERDICT_WORDS = {"win": "wins", "tie": "ties", "lose": "loses"}


def _blank_missing(table: pd.DataFrame) -> pd.DataFrame:
    return table.map(lambda cell: NOT_APPLICABLE if str(cell).startswith("nan") else cell)


def _verdict_columns(result: BenchResult, rows: Sequence[str]) -> pd.DataFrame:
    cells: dict[str, dict[str, str]] = {}
    for c in result.comparisons:
        cells.setdefault(f"{c.a} vs {c.b}", {})[c.condition] = verdict_cell(c)
    return pd.DataFrame(cells).reindex(list(rows))


def metric_table(result: BenchResult, metric: str = "score") -> pd.DataFrame:
    """Conditions x methods, ``mean ± std`` over seeds of one `CONDITION_METRICS` column;
    rows and methods without any value are left out."""
    part = result.scores.dropna(subset=[metric])
    if part.empty:
        return pd.DataFrame()
    table = mean_std_table(
        part,
        index="condition",
        columns="method",
        value=metric,
        index_order=result.conditions,
        column_order=result.methods,
    )
    return _blank_missing(table)


def score_table(result: BenchResult) -> pd.DataFrame:
    """The task metric per condition and method, with EMMA's verdicts against the best peer."""
    table = metric_table(result, "score")
    return table.join(_verdict_columns(result, list(table.index)))


def robustness_table(result: BenchResult) -> pd.DataFrame:
    """Per mode, the area under the metric-versus-noise curve and the effective robustness
    against late fusion, per method, with the verdicts."""
    long = result.robustness.melt(
        id_vars=["seed", "method", "mode"],
        value_vars=["area", "effective_robustness"],
        var_name="measure",
    ).dropna(subset=["value"])
    labels = dict(ROBUSTNESS_MEASURES)
    long["row"] = long["measure"].map(labels) + ":" + long["mode"]
    order = [f"{labels[m]}:{mode}" for m in labels for mode in result.mode_names]
    table = mean_std_table(
        long, index="row", columns="method", index_order=order, column_order=result.methods
    )
    return _blank_missing(table).join(_verdict_columns(result, list(table.index)))


def verdict_lines(result: BenchResult) -> list[str]:
    """One sentence per EMMA variant and verdict: the conditions where it wins, ties, loses."""
    lines = []
    for method in result.emma_methods:
        mine = [c for c in result.comparisons if c.a == method]
        undecided = [c for c in mine if c.verdict == "too_few_seeds"]
        if undecided:
            lines.append(
                f"- **{method}: no verdict** against {result.best_peer} on {len(undecided)} of "
                f"{len(mine)}: fewer than {MIN_SEEDS_FOR_VERDICT} seeds"
            )
            continue
        for verdict, word in VERDICT_WORDS.items():
            names = [c.condition for c in mine if c.verdict == verdict]
            listed = ", ".join(f"`{n}`" for n in names) if names else "none"
            lines.append(
                f"- **{method} {word}** against {result.best_peer} on {len(names)} of "
                f"{len(mine)}: {listed}"
            )
    return lines


def alternatives_table(result: BenchResult) -> pd.DataFrame:
    """Context, not the verdict: each EMMA variant against EVERY alternative on the task
    metric of every condition, as ``wins / ties / losses`` counts."""
    alternatives = [m for m in result.methods if m not in result.emma_methods]
    rows: dict[str, dict[str, str]] = {}
    for other in alternatives:
        found = compare_with_peer(
            result.scores, result.robustness, result.emma_methods, other, result.conditions, []
        )
        for method in result.emma_methods:
            counts = [sum(c.a == method and c.verdict == v for c in found) for v in VERDICT_WORDS]
            rows.setdefault(other, {})[f"{method}: wins / ties / losses"] = " / ".join(
                map(str, counts)
            )
    return pd.DataFrame.from_dict(rows, orient="index")


def shift_table(result: BenchResult, family: str) -> pd.DataFrame:
    """Each EMMA variant (rows) against every alternative (columns) on the heaviest shifts:
    ``family`` ``noise`` at the strongest level or ``ood``, each seed's metric averaged over
    the modes, paired over seeds. Empty when the family was not tested."""
    rows = result.scores[result.scores["family"] == family]
    if family == "noise" and not rows.empty:
        rows = rows[rows["level"] == rows["level"].max()]
    if rows.empty:
        return pd.DataFrame()
    wide = rows.groupby(["seed", "method"])["score"].mean().unstack("method").sort_index()
    alternatives = [m for m in result.methods if m not in result.emma_methods]
    cells: dict[str, dict[str, str]] = {}
    for method in result.emma_methods:
        for other in alternatives:
            c = compare(
                wide[method].tolist(), wide[other].tolist(), a=method, b=other, condition=""
            )
            cells.setdefault(other, {})[method] = f"{c.label.lower()} {c.mean_diff:+.4f}"
    return pd.DataFrame(cells).reindex(result.emma_methods)


def curve_frame(result: BenchResult) -> pd.DataFrame:
    """Per seed, method, mode and noise level: the task metric (clean at level 0)."""
    scores = result.scores
    clean = scores[scores.family == "clean"]
    noisy = scores[scores.family == "noise"]
    parts = [noisy.assign(sigma=noisy["level"])]
    parts += [clean.assign(mode=mode, sigma=0.0) for mode in result.mode_names]
    frame = pd.concat(parts, ignore_index=True)
    return frame[["seed", "method", "mode", "sigma", "score"]]


#: How the curves are drawn: one panel per noisy mode, one line per method; the y axis
#: follows the data, so that small differences between strong methods stay visible.
CURVE_LAYOUT: dict[str, Any] = {
    "x": "sigma",
    "y": "score",
    "panel": "mode",
    "line": "method",
    "xlabel": "Gaussian noise sigma on one mode",
    "panel_title": "noise on {}",
}


def plot_curves(result: BenchResult, path: Path) -> Path:
    """One panel per mode: every method's metric against the noise on that mode."""
    rows = 2 if len(result.mode_names) > 3 else 1
    order: dict[str, Any] = {
        "panel_order": result.mode_names,
        "line_order": result.methods,
        "rows": rows,
    }
    return plot_bands(curve_frame(result), path, ylabel=result.metric, **order, **CURVE_LAYOUT)


def _validation_table(result: BenchResult) -> pd.DataFrame:
    return mean_std_table(
        result.validation.assign(what="validation " + result.metric),
        index="method",
        columns="what",
        value="val_score",
        index_order=result.methods,
    )


def _shift_lines(result: BenchResult) -> list[str]:
    """Every EMMA variant against every alternative at the strongest noise and under OOD."""
    lines = []
    for family, what in (("noise", "the strongest noise"), ("ood", "out-of-distribution input")):
        table = shift_table(result, family)
        if table.empty:
            continue
        lines += [
            f"Against every alternative under {what} (one mode at a time, mean over the modes; "
            f"verdict and mean difference of the {result.metric}, paired over seeds). The best "
            f"peer was selected on the mild training noise, which favours methods that fit "
            "that noise, and some of them break under heavier shift:",
            "",
            to_markdown(table, "EMMA variant"),
            "",
        ]
    return lines


def dataset_section(
    result: BenchResult, figure: str, failure_figures: Mapping[str, str] | None = None
) -> str:
    """The report's section of one data set (``figure``: the curves' relative path;
    ``failure_figures``: the unanticipated suite's figures, by file key)."""
    n_seeds = result.scores["seed"].nunique()
    lines = [f"## {result.name}", ""]
    lines += [f"- {key}: `{value}`" for key, value in result.setup.items() if key != "methods"]
    described = {
        name: info if isinstance(info, Mapping) else {"trained": info}
        for name, info in result.setup.get("methods", {}).items()
    }
    methods = pd.DataFrame.from_dict(described, orient="index")
    lines += [
        "",
        to_markdown(methods, "method"),
        "",
        f"**Best peer: `{result.best_peer}`**, chosen on the corrupted validation mix (highest "
        f"mean {result.metric} over seeds; the test split plays no part):",
        "",
        to_markdown(_validation_table(result), "method"),
        "",
        "### Verdicts against the best peer",
        "",
        f"Paired over {n_seeds} seeds; *wins* means the 95% t-interval of the per-seed "
        "differences excludes 0 on the positive side, *loses* on the negative side, otherwise "
        "*ties*.",
        "",
        *verdict_lines(result),
        "",
        "For context only (the verdict is against the best peer above): the same paired "
        f"comparison of the {result.metric} against every alternative, counted over the "
        f"{len(result.conditions)} conditions. A peer chosen on validation data can fail "
        "where another alternative holds up; this table shows it.",
        "",
        to_markdown(alternatives_table(result), "against"),
        "",
        *_shift_lines(result),
        f"### {result.metric} per condition (mean ± std over seeds)",
        "",
        to_markdown(score_table(result), "condition"),
        "",
        f"![{result.metric} versus noise]({figure})",
        "",
        "### Robustness: area under the curve and effective robustness",
        "",
        f"Area: the mean {result.metric} over the noise levels (trapezoid area divided by "
        "their range). Effective robustness: MultiBench's, against late fusion, un-normalised "
        "(positive: loses less than late fusion as the noise grows).",
        "",
        to_markdown(robustness_table(result), "measure"),
        "",
    ]
    for metric in ("detection_auroc", "error_auroc", "ece"):
        table = metric_table(result, metric)
        if table.empty:
            continue
        lines += [f"### {CONDITION_METRICS[metric]}", "", to_markdown(table, "condition"), ""]
    if result.failures is not None:
        lines += failure_section(result, dict(failure_figures or {}))
    return "\n".join(lines)


def write_dataset(result: BenchResult, out_dir: Path) -> dict[str, Path]:
    """CSV and Markdown tables, per-seed frames and the curves of one data set, in
    ``out_dir/<name>`` (a name that would leave ``out_dir`` is refused)."""
    out = inside(out_dir, result.name)
    table = score_table(result)
    paths = {
        "table_csv": write_text(out / "table.csv", table.to_csv()),
        "table_md": write_text(out / "table.md", to_markdown(table, "condition") + "\n"),
        "robustness_csv": write_text(out / "robustness.csv", robustness_table(result).to_csv()),
        "scores_csv": write_text(out / "scores.csv", result.scores.to_csv(index=False)),
        "validation_csv": write_text(out / "validation.csv", result.validation.to_csv(index=False)),
        "figure": plot_curves(result, out / "curves.png"),
    }
    for metric in ("detection_auroc", "error_auroc", "ece"):
        frame = metric_table(result, metric)
        if not frame.empty:
            paths[f"{metric}_csv"] = write_text(out / f"{metric}.csv", frame.to_csv())
    if result.failures is not None:
        paths |= write_failure_files(result, out)
    return paths


def _json_ready(value: Any) -> Any:
    """NaN and infinities become null, so that ``results.json`` is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def _payload(result: BenchResult) -> dict[str, Any]:
    return {
        "metric": result.metric,
        "modes": result.mode_names,
        "methods": result.methods,
        "emma_methods": result.emma_methods,
        "conditions": result.conditions,
        "best_peer": result.best_peer,
        "setup": result.setup,
        "comparisons": [c.as_dict() for c in result.comparisons],
        "validation": result.validation.to_dict(orient="records"),
        "robustness": result.robustness.to_dict(orient="records"),
        "scores": result.scores.to_dict(orient="records"),
        "failures": None if result.failures is None else summary_payload(result.failures),
    }


def write_report(
    results: Sequence[BenchResult],
    out_dir: str | Path,
    *,
    setup: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Every data set's files, then ``report.md`` and ``results.json`` over all of them."""
    out = Path(out_dir)
    paths: dict[str, Path] = {}
    sections = []
    for result in results:
        for key, path in write_dataset(result, out).items():
            paths[f"{result.name}_{key}"] = path
        relative = {
            key.removeprefix(f"{result.name}_"): path.relative_to(out).as_posix()
            for key, path in paths.items()
            if key.startswith(f"{result.name}_") and path.suffix == ".png"
        }
        sections.append(dataset_section(result, relative["figure"], relative))
    lines = [
        "# Is EMMA better than what I would pick instead?",
        "",
        "Every method is trained and tested on the same splits, seeds and corruptions. The "
        "peers and noise augmentation train on the same corrupted mix as EMMA (50 % clean, the "
        "rest one noisy mode each); early fusion trains on clean data. Missing modes: EMMA "
        "reads the missing mask; the other methods have no mask input, so they get the "
        "missing mode zero-filled (the training mean on standardized data). Thresholds and "
        "early stopping use validation data only, and so does the choice of the best peer.",
        "",
    ]
    lines += [f"- {key}: `{value}`" for key, value in (setup or {}).items()]
    lines += ["", *sections]
    paths["report"] = write_text(out / "report.md", "\n".join(lines).rstrip("\n") + "\n")
    payload = {"setup": dict(setup or {}), "datasets": {r.name: _payload(r) for r in results}}
    text = json.dumps(_json_ready(payload), indent=2, default=str, allow_nan=False)
    paths["json"] = write_text(out / "results.json", text)
    return paths


def _comparison(record: Mapping[str, Any]) -> PairedComparison:
    low, high = record["low"], record["high"]  # null: an unbounded interval (one seed)
    return PairedComparison(
        **{
            **record,
            "low": -math.inf if low is None else low,
            "high": math.inf if high is None else high,
        }
    )


def read_results(path: str | Path) -> tuple[list[BenchResult], dict[str, Any]]:
    """The results and setup of a ``results.json`` that `write_report` wrote, so that the
    report can be written again (``emma bench report DIR``) without training."""
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    results = []
    for name, data in payload["datasets"].items():
        comparisons = [_comparison(c) for c in data["comparisons"]]
        emma = data.get("emma_methods") or list(dict.fromkeys(c.a for c in comparisons))
        scores = pd.DataFrame(data["scores"]).fillna(value=math.nan)
        results.append(
            BenchResult(
                name=name,
                metric=data["metric"],
                mode_names=data["modes"],
                methods=data["methods"],
                emma_methods=emma,
                conditions=data["conditions"],
                scores=scores,
                validation=pd.DataFrame(data["validation"]),
                robustness=pd.DataFrame(data["robustness"]).fillna(value=math.nan),
                best_peer=data["best_peer"],
                comparisons=comparisons,
                setup=data["setup"],
                failures=summarise_failures(scores, data["methods"], emma, data["best_peer"]),
            )
        )
    return results, payload.get("setup", {})
