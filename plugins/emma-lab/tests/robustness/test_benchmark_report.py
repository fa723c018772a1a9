"""The benchmark's report: side-by-side tables, a verdict per condition, curves, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from _benchmark_samples import breast_cancer_bench, synthetic_scores
from _experiment_samples import small_data
from emma_lab.robustness.protocol import condition_names
from emma_lab.robustness.report import (
    NOT_APPLICABLE,
    alternatives_table,
    metric_table,
    read_results,
    robustness_table,
    score_table,
    shift_table,
    write_report,
)
from emma_lab.robustness.run import BenchResult, summarise

PNG = b"\x89PNG\r\n\x1a\n"


def _result() -> BenchResult:
    bench = breast_cancer_bench()
    modes = list(bench.emma_spec().mode_names)
    conditions = condition_names(modes, bench.protocol)
    scores = synthetic_scores(bench.methods, conditions, seeds=3, boost={"emma": 0.3, "qmf": -0.3})
    scores.loc[scores.method == "early_fusion", "detection_auroc"] = np.nan
    validation = pd.DataFrame(
        [
            {"seed": s, "method": m, "val_score": 0.9 if m == "tmc" else 0.5}
            for s in range(3)
            for m in bench.methods
        ]
    )
    return summarise(bench, small_data(), [0, 1, 2], validation, scores)


def test_tables_have_every_method_condition_and_verdict() -> None:
    result = _result()
    assert result.best_peer == "tmc"
    table = score_table(result)
    assert list(table.index) == result.conditions
    verdicts = [f"{m} vs tmc" for m in result.emma_methods]
    assert list(table.columns) == [*result.methods, *verdicts]
    assert table["emma vs tmc"].str.startswith("win").all()
    assert table["emma_experts vs tmc"].str.split().str[0].isin(["win", "tie", "lose"]).all()
    robustness = robustness_table(result)
    assert list(robustness.index) == [f"area:{m}" for m in result.mode_names] + [
        f"effective rob.:{m}" for m in result.mode_names
    ]
    detection = metric_table(result, "detection_auroc")
    assert "early_fusion" not in detection.columns
    assert metric_table(result, "error_auroc").empty
    context = alternatives_table(result)
    assert list(context.index) == [m for m in result.methods if not m.startswith("emma")]
    n = len(result.conditions)
    assert context.loc["qmf", "emma: wins / ties / losses"] == f"{n} / 0 / 0"


def test_write_report_states_a_verdict_for_every_condition(tmp_path: Path) -> None:
    result = _result()
    paths = write_report([result], tmp_path, setup={"version": "test"})
    report = paths["report"].read_text()
    assert "Best peer: `tmc`" in report
    assert "| tmc | peer | `tmc` trained on clean data, then on the corrupted mix |" in report
    assert "| emma_experts | emma |" in report
    for condition in result.conditions:
        assert f"| {condition} |" in report
    n = len(result.conditions)
    # a constant boost wins every condition and area; effective robustness is unchanged
    assert f"**emma wins** against tmc on {n + 3} of {n + 6}:" in report
    assert f"**emma ties** against tmc on 3 of {n + 6}:" in report
    assert "**emma loses** against tmc on 0 of" in report
    assert paths["breast_cancer_figure"].read_bytes().startswith(PNG)
    assert "![f1 versus noise](breast_cancer/curves.png)" in report
    table = pd.read_csv(paths["breast_cancer_table_csv"], index_col=0)
    assert list(table.index) == result.conditions
    assert NOT_APPLICABLE not in table["emma"].tolist()
    payload = json.loads(paths["json"].read_text())  # strict JSON: no NaN
    data = payload["datasets"]["breast_cancer"]
    assert data["best_peer"] == "tmc" and len(data["scores"]) == len(result.scores)
    assert data["scores"][0]["error_auroc"] is None
    assert not list(tmp_path.rglob("*.tmp"))


def test_results_json_gives_back_the_same_report(tmp_path: Path) -> None:
    result = _result()
    first = write_report([result], tmp_path / "a", setup={"version": "test"})
    results, setup = read_results(first["json"])
    assert setup == {"version": "test"}
    assert results[0].comparisons == result.comparisons
    again = write_report(results, tmp_path / "b", setup=setup)
    assert again["report"].read_text() == first["report"].read_text()
    assert again["breast_cancer_table_csv"].read_text() == (
        first["breast_cancer_table_csv"].read_text()
    )


def test_every_emma_variant_meets_every_alternative_under_heavy_shift() -> None:
    result = _result()
    for family in ("noise", "ood"):
        table = shift_table(result, family)
        assert list(table.index) == result.emma_methods
        assert list(table.columns) == [m for m in result.methods if m not in result.emma_methods]
        assert table.loc["emma"].str.startswith("win").all()  # boosted by 0.3 everywhere
    assert shift_table(result, "nothing").empty
