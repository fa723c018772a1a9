"""``emma bench robustness`` end to end: the short version on bundled data always, on
HTRU2 and UCI Multiple Features subsets where EMMA_DATA_DIR has them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from _benchmark_samples import BENCH_DIR
from shared_data import shared_data_dir

from emma_plugins.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def _check_run(out: Path, names: list[str]) -> None:
    payload = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    for name in names:
        data = payload["datasets"][name]
        methods, conditions = data["methods"], data["conditions"]
        table = pd.read_csv(out / name / "table.csv", index_col=0)
        assert list(table.index) == conditions
        assert set(methods) <= set(table.columns)
        scores = pd.DataFrame(data["scores"])
        assert set(scores["method"]) == set(methods)
        assert set(conditions) <= set(scores["condition"])
        assert scores["score"].between(0, 1).all() and scores["ece"].between(0, 1).all()
        for column in ("detection_auroc", "error_auroc"):
            assert scores[column].dropna().between(0, 1).all()
        emma = scores[scores.method == "emma"]
        assert emma["error_auroc"].notna().all()
        assert emma[emma.family.isin(["noise", "ood"])]["detection_auroc"].notna().all()
        assert data["best_peer"] in methods and not data["best_peer"].startswith("emma")
        labels = {c["condition"] for c in data["comparisons"] if c["a"] == "emma"}
        assert set(conditions) <= labels
        assert all(f"| {c} |" in report for c in conditions)
        assert (out / name / "curves.png").read_bytes().startswith(PNG)
        assert (out / name / "table.md").read_text().startswith("| condition |")
    assert "zero-filled" in report and "validation" in report


def test_bench_robustness_quick_on_bundled_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The unanticipated suite: the standard conditions plus the failures nobody trained for."""
    out = tmp_path / "bench"
    argv = ["bench", "robustness", "--datasets", "breast_cancer", "--quick", "--out", str(out)]
    argv += ["--suite", "unanticipated"]
    assert main([*argv, "--bench-dir", str(BENCH_DIR), "--no-progress", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "breast_cancer: emma against the best peer" in printed and "report:" in printed
    assert "unanticipated failures: emma_experts mean rank" in printed
    _check_run(out, ["breast_cancer"])
    payload = json.loads((out / "results.json").read_text())
    data = payload["datasets"]["breast_cancer"]
    assert data["setup"]["seeds"] == [0, 1]
    scores = pd.DataFrame(data["scores"])
    failures = scores[scores.family == "failure"]
    kinds = {"stuck", "drift", "gain", "clip", "quantize", "impulse", "ood", "missing"}
    assert set(failures["kind"]) == kinds and set(failures["count"]) == {1, 2}
    assert failures[failures.method == "emma"]["failed_importance"].notna().any()
    summary = data["failures"]
    assert {r["method"] for r in summary["ranks"]} == set(data["methods"])
    assert [o["method"] for o in summary["outcomes"]] == data["emma_methods"]
    report = (out / "report.md").read_text()
    assert "### Failures nobody trained for" in report and "| stuck:2modes |" in report
    for name in ("failure_ranks.png", "failure_severity.png"):
        assert (out / "breast_cancer" / name).read_bytes().startswith(PNG)
    ranks = pd.read_csv(out / "breast_cancer" / "failure_ranks.csv", index_col=0)
    assert set(ranks.index) == set(data["methods"])
    before = (out / "report.md").read_text()
    (out / "report.md").unlink()
    assert main(["bench", "report", str(out)]) == 0
    assert (out / "report.md").read_text() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_bench_robustness_on_a_missing_device_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "robustness", "--datasets", "breast_cancer", "--quick", "--out", str(out)]
    assert main([*argv, "--bench-dir", str(BENCH_DIR), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDA is not available" in err
    assert not out.exists()


def test_bench_robustness_on_htru2_and_mfeat_subsets(tmp_path: Path) -> None:
    shared_data_dir("htru2", "HTRU_2.csv")
    data_dir = shared_data_dir("mfeat", "mfeat-fou.csv")
    out = tmp_path / "bench"
    argv = ["bench", "robustness", "--quick", "--seeds", "2", "--out", str(out)]
    assert main([*argv, "--data-dir", str(data_dir), "--no-progress"]) == 0
    _check_run(out, ["htru2", "mfeat"])
    payload = json.loads((out / "results.json").read_text())
    assert "noise:3modes@1" in payload["datasets"]["mfeat"]["conditions"]
    assert payload["datasets"]["htru2"]["metric"] == "f1"
    assert payload["datasets"]["mfeat"]["metric"] == "accuracy"


def test_bench_robustness_on_audio_visual_digits(tmp_path: Path) -> None:
    data_dir = shared_data_dir("fsdd", "SHA256SUMS")
    out = tmp_path / "bench"
    argv = ["bench", "robustness", "--datasets", "av_digits", "--quick", "--out", str(out)]
    assert main([*argv, "--data-dir", str(data_dir), "--no-progress"]) == 0
    _check_run(out, ["av_digits"])
    payload = json.loads((out / "results.json").read_text())
    assert payload["datasets"]["av_digits"]["metric"] == "accuracy"


def test_bench_lists_files_and_reports_unknown_data_sets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "robustness", "--list", "--bench-dir", str(BENCH_DIR)]) == 0
    assert "mfeat" in capsys.readouterr().out
    argv = ["bench", "robustness", "--datasets", "nope", "--out", str(tmp_path)]
    assert main([*argv, "--bench-dir", str(BENCH_DIR)]) == 2
    assert "no bench file for data set 'nope'" in capsys.readouterr().err
    assert main(["bench", "robustness", "--bench-dir", str(BENCH_DIR)]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["bench", "report", str(tmp_path)]) == 2
    assert "results.json not found" in capsys.readouterr().err


def test_a_resumed_bench_trains_only_the_seeds_its_log_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emma_lab.robustness import run as run_module
    from emma_lab.robustness.runner import run_named

    whole, _ = run_named(["breast_cancer"], tmp_path / "whole", quick=True, progress=False)
    log = tmp_path / "whole" / "breast_cancer" / "seeds.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    assert len(lines) == 2  # the quick version's two seeds
    (tmp_path / "cut" / "breast_cancer").mkdir(parents=True)
    (tmp_path / "cut" / "breast_cancer" / "seeds.jsonl").write_text(lines[0])
    trained: list[int] = []
    original = run_module.run_seed

    def counting(trainer: Any, data: Any) -> Any:
        trained.append(data.seed)
        return original(trainer, data)

    monkeypatch.setattr(run_module, "run_seed", counting)
    resumed, _ = run_named(
        ["breast_cancer"], tmp_path / "cut", quick=True, progress=False, resume=True
    )
    assert trained == [1]
    pd.testing.assert_frame_equal(resumed[0].scores, whole[0].scores)
