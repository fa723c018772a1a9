"""The hyperparameter grid on small data: validation-only ranking, resume, parallel
workers, outputs and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _experiment_samples import breast_cancer_spec, small_data, tiny_spec, with_scrambled_test
from emma_lab.experiments import comparison as table_module
from emma_lab.grid import search as grid_module
from emma_lab.grid.runner import grid_of, run_grid_spec
from emma_lab.grid.search import GridResult, grid_points, run_grid

from emma_plugins.core.errors import EmmaError, SpecError
from emma_plugins.spec import parse_spec

GRID = {
    "rho": [1e-3, 1e-1],
    "lambda_e": [0.0, 1e-2],
    "lambda_c": [1e-3],
    "top": 2,
    "rerun_seeds": [0, 1],
    "selection_seed": 7,
    "workers": 1,
}
POINTS = grid_points(GRID["rho"], GRID["lambda_e"], GRID["lambda_c"])  # 2 x 2 x 1


def _spec(**training: Any) -> Any:
    return tiny_spec(training=training, evaluation={"grid": GRID})


def _run(
    out: Path, *, workers: int | None = None, stack: bool = True, **training: Any
) -> GridResult:
    return run_grid(
        _spec(**training), small_data(), out, workers=workers, progress=False, stack=stack
    )


def _validation_view(result: GridResult) -> pd.DataFrame:
    return result.selection.drop(columns=["seconds", "cpu_seconds"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[GridResult, Path]:
    out = tmp_path_factory.mktemp("grid")
    return _run(out), out


def test_ranking_uses_validation_data_only(
    reference: tuple[GridResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean, _ = reference
    # every seed of the grid is prepared through Experiment.prepare -> prepare_seed
    original = table_module.prepare_seed
    monkeypatch.setattr(
        table_module, "prepare_seed", lambda *a, **k: with_scrambled_test(original(*a, **k), seed=3)
    )
    scrambled = _run(tmp_path)
    # a different test split leaves the ranking and every validation score unchanged...
    pd.testing.assert_frame_equal(_validation_view(scrambled), _validation_view(clean))
    assert scrambled.top == clean.top
    # ...while the reruns' test scores, which the scrambling does reach, change
    assert not scrambled.reruns.scores["value"].equals(clean.reruns.scores["value"])


def test_ranking_follows_the_validation_loss(reference: tuple[GridResult, Path]) -> None:
    result, _ = reference
    selection = result.selection
    assert list(selection["rank"]) == [1, 2, 3, 4]
    assert selection["val_loss"].is_monotonic_increasing
    assert {c for c in selection.columns if "test" in c} == set()
    assert [p.key for p in result.top] == list(selection["key"][:2])
    assert set(selection["seed"]) == {7}


def test_reruns_pair_top_configs_with_without(reference: tuple[GridResult, Path]) -> None:
    result, _ = reference
    scores = result.reruns.scores
    assert set(scores["seed"]) == {0, 1}
    assert set(scores["model"]) == {
        "early_fusion",
        "noise_augmentation",
        *[p.model_name for p in result.top],
    }
    conditions = 1 + 3  # clean, then one noisy mode at a time
    assert len(result.reruns.comparisons) == 2 * conditions * len(result.top)
    assert {c.b for c in result.reruns.comparisons} == {"noise_augmentation"}
    assert all(c.n == 2 for c in result.reruns.comparisons)


def _count_trainings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    trained: list[str] = []
    original = grid_module.train_variants

    def counting(*args: Any, **kwargs: Any) -> Any:
        trained.extend(variant.name for variant in args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(grid_module, "train_variants", counting)
    return trained


def test_stacked_selection_ranks_as_one_at_a_time(
    reference: tuple[GridResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stacked_result, _ = reference  # trained stacked, the default
    groups: list[int] = []
    original = grid_module.train_variants

    def spy(variants: Any, *args: Any, **kwargs: Any) -> Any:
        groups.append(len(variants) if kwargs.get("stack", True) else 1)
        return original(variants, *args, **kwargs)

    monkeypatch.setattr(grid_module, "train_variants", spy)
    alone = _run(tmp_path, stack=False)
    assert groups == [1, 1, 1, 1]  # every configuration trained alone
    pd.testing.assert_frame_equal(
        _validation_view(alone), _validation_view(stacked_result), atol=1e-6, rtol=0
    )


def test_resume_trains_only_the_missing_configurations(
    reference: tuple[GridResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, first_dir = reference
    lines = (first_dir / "grid.jsonl").read_text().splitlines(keepends=True)
    selects = [line for line in lines if json.loads(line)["kind"] == "select"]
    # an interrupted run: two configurations done, the third cut mid-line, no reruns yet
    (tmp_path / "grid.jsonl").write_text(selects[0] + selects[1] + selects[2][:40])
    trained = _count_trainings(monkeypatch)
    resumed = _run(tmp_path)
    done = {json.loads(selects[i])["key"] for i in (0, 1)}
    assert sorted(trained) == sorted(p.key for p in POINTS if p.key not in done)
    after = (tmp_path / "grid.jsonl").read_text().splitlines(keepends=True)
    assert after[:2] == selects[:2]
    records = [json.loads(line) for line in after]
    assert sorted(r["key"] for r in records if r["kind"] == "select") == sorted(
        p.key for p in POINTS
    )
    assert sorted(r["seed"] for r in records if r["kind"] == "rerun") == [0, 1]
    pd.testing.assert_frame_equal(_validation_view(resumed), _validation_view(first))
    # a finished grid resumes without training anything
    trained.clear()
    again = _run(tmp_path)
    assert trained == []
    assert len((tmp_path / "grid.jsonl").read_text().splitlines()) == len(after)
    pd.testing.assert_frame_equal(again.reruns.scores, resumed.reruns.scores)


def test_a_log_of_other_settings_is_refused(
    reference: tuple[GridResult, Path], tmp_path: Path
) -> None:
    _, first_dir = reference
    (tmp_path / "grid.jsonl").write_bytes((first_dir / "grid.jsonl").read_bytes())
    with pytest.raises(EmmaError, match="different spec"):
        _run(tmp_path, epochs=3)


def test_two_workers_give_the_same_numbers_as_one(
    reference: tuple[GridResult, Path], tmp_path: Path
) -> None:
    one, _ = reference
    two = _run(tmp_path, workers=2)
    pd.testing.assert_frame_equal(_validation_view(two), _validation_view(one))
    columns = ["seed", "model", "evaluation", "condition"]
    pd.testing.assert_frame_equal(
        two.reruns.scores.sort_values(columns).reset_index(drop=True),
        one.reruns.scores.sort_values(columns).reset_index(drop=True),
    )


def _runnable_spec(tmp_path: Path) -> Path:
    spec = breast_cancer_spec()
    spec["data"] = {"dataset": {"kind": "breast_cancer"}}
    spec["training"] = {"base_epochs": 1, "epochs": 1}
    spec["evaluation"] = {
        "noise_draws": 1,
        "grid": {
            "rho": [1e-2],
            "lambda_e": [0.0, 1e-2],
            "lambda_c": [1e-3],
            "top": 1,
            "rerun_seeds": [0, 1],
            "workers": 1,
        },
    }
    path = tmp_path / "grid-spec.json"
    path.write_text(json.dumps(spec))
    return path


def test_outputs_and_report_list_the_top_configs_with_verdicts(tmp_path: Path) -> None:
    from emma_plugins.spec import load_spec

    result, paths = run_grid_spec(
        load_spec(_runnable_spec(tmp_path)), tmp_path / "out", progress=False
    )
    for key in ("csv", "top_csv", "figure", "report", "log"):
        assert paths[key].exists(), key
    assert paths["figure"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert len(pd.read_csv(paths["csv"])) == 2
    report = paths["report"].read_text()
    top = result.top[0]
    assert top.model_name in report
    assert "validation task loss" in report
    labels = ("WIN", "TIE", "LOSE", "NO VERDICT")  # 2 rerun seeds here: no verdict
    n_verdicts = sum(report.count(f"**{v}**") for v in labels)
    assert n_verdicts == len(result.reruns.comparisons) == 2 * 4
    assert "mean ± std" in report and " ± " in report


def test_validation_checks_rho_against_the_importance_kind() -> None:
    spec = breast_cancer_spec()
    spec["evaluation"] = {"grid": {"rho": [1e-2, 1e7]}}  # 1e7: above the boltzmann bound
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    assert [issue.location for issue in caught.value.issues] == ["evaluation.grid.rho[1]"]
    assert "attention.importance.rho" in caught.value.issues[0].message
    # without a grid section, the thesis' grid is checked when the grid runs
    grid = grid_of(parse_spec(breast_cancer_spec()))
    assert len(grid.rho) * len(grid.lambda_e) * len(grid.lambda_c) == 125


def test_cli_runs_the_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from emma_plugins.cli import main

    out = tmp_path / "cli"
    code = main(["grid", str(_runnable_spec(tmp_path)), "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "top 1 of 2 by validation loss" in printed
    assert (out / "grid.md").exists() and (out / "grid.jsonl").exists()


def test_cli_names_the_line_of_a_damaged_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from emma_plugins.cli import main

    out = tmp_path / "cli"
    out.mkdir()
    (out / "grid.jsonl").write_text('{"fingerprint": "f", "kind": "select", "key": 5}\n')
    argv = ["grid", str(_runnable_spec(tmp_path)), "--out", str(out), "--no-progress"]
    assert main(argv) == 2  # a directory without run.json: only --resume reads its log
    assert "has no run.json" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out / 'grid.jsonl'}: line 1: field 'key' must be a string")
    assert err.count("\n") == 1
    (out / "grid.jsonl").unlink()
    (out / "grid.jsonl").mkdir()
    assert main([*argv, "--resume"]) == 2
    assert f"{out / 'grid.jsonl'} is not a file" in capsys.readouterr().err
