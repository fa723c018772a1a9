"""The output directory of ``emma run``, ``emma grid`` and ``emma bench robustness``:
checked before training, locked, described by run.json; Ctrl-C and a full disk are one line."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from _benchmark_samples import BENCH_DIR
from emma_lab.experiments import runner as runner_module

from emma_plugins.cli import main
from emma_plugins.rundir import LOCK_NAME, MANIFEST_NAME, RunLock, fingerprint
from emma_plugins.spec import load_spec

SPEC = {
    "spec_version": 1,
    "modes": [
        {"name": name, "width": 10, "estimator": {"kind": "dae", "hidden": 4, "epochs": 1}}
        for name in ("mean", "error", "worst")
    ],
    "attention": {"importance": {"kind": "boltzmann", "rho": 0.01}},
    "network": {"kind": "mlp", "hidden": [8]},
    "out_features": 1,
    "data": {"dataset": {"kind": "breast_cancer"}},
    "training": {"base_epochs": 1, "epochs": 1},
    "evaluation": {"seeds": [0], "noise_draws": 1, "analyses": False},
}
GRID = {"rho": [1e-2], "lambda_e": [0.0], "lambda_c": [1e-3], "top": 1, "rerun_seeds": [0, 1]}


def _spec(tmp_path: Path, name: str = "tiny", **changes: Any) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def _never_train(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("trained although the output directory is unusable")


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    from emma_lab.grid import runner as grid_runner
    from emma_lab.robustness import runner as bench_runner

    monkeypatch.setattr(runner_module, "run_table_experiment", _never_train)
    monkeypatch.setattr(grid_runner, "run_grid", _never_train)
    monkeypatch.setattr(bench_runner, "run_benchmark", _never_train)


def _argv(command: str, tmp_path: Path, out: Path) -> list[str]:
    if command == "bench":
        return [
            "bench", "robustness", "--datasets", "breast_cancer", "--quick",
            "--bench-dir", str(BENCH_DIR), "--out", str(out),
        ]  # fmt: skip
    spec = _spec(tmp_path, evaluation={**SPEC["evaluation"], "grid": GRID})
    return [command, str(spec), "--out", str(out), "--no-progress"]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("command", ["run", "grid", "bench"])
def test_a_file_or_an_unwritable_out_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    file = tmp_path / "taken"
    file.write_text("not a directory")
    assert main(_argv(command, tmp_path, file)) == 2
    assert f"output directory {file} is a file" in _one_line_error(capsys)
    assert main(_argv(command, tmp_path, file / "below")) == 2
    assert f"output directory {file / 'below'} cannot be written" in _one_line_error(capsys)


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize("command", ["run", "grid", "bench"])
def test_a_locked_out_names_the_directory_and_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    with RunLock(out):
        assert main(_argv(command, tmp_path, out)) == 2
    err = _one_line_error(capsys)
    assert f"output directory {out} is in use by another emma run (PID {os.getpid()})" in err
    assert not (out / MANIFEST_NAME).exists()


@pytest.mark.usefixtures("no_training")
def test_another_specs_directory_is_refused_without_overwrite_or_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("the old report")
    manifest = {
        "fingerprint": "0" * 64, "command": ["emma", "run"], "status": "complete",
        "started": "2026-01-01T00:00:00+00:00", "finished": None, "pid": 1, "version": 1,
    }  # fmt: skip
    (out / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert main(_argv("run", tmp_path, out)) == 2
    err = _one_line_error(capsys)
    assert "holds the outputs of another spec" in err and "--overwrite" in err
    assert "--resume to continue from it" in err  # emma run resumes by seed
    assert main(_argv("grid", tmp_path, out)) == 2
    assert "--resume to continue from it" in _one_line_error(capsys)
    assert (out / "report.md").read_text() == "the old report"
    (out / MANIFEST_NAME).write_text('{"fingerprint": 5}')
    assert main(_argv("run", tmp_path, out)) == 2
    assert f"{out / MANIFEST_NAME}: field 'fingerprint' must be a string" in (
        _one_line_error(capsys)
    )


@pytest.mark.usefixtures("no_training")
def test_a_directory_of_other_files_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "home"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    for extra in ([], ["--overwrite"]):
        assert main([*_argv("run", tmp_path, out), *extra]) == 2
        assert "is not empty (notes.txt) and has no run.json" in _one_line_error(capsys)
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("error", "code", "status", "message"),
    [
        (KeyboardInterrupt(), 130, "interrupted", "interrupted\n"),
        (
            OSError(errno.ENOSPC, "No space left on device", "/full/results.csv"),
            2,
            "failed",
            "error: /full/results.csv: No space left on device; free some space",
        ),
    ],
)
def test_ctrl_c_and_a_full_disk_are_one_line_and_marked_in_the_manifest(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    code: int,
    status: str,
    message: str,
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(runner_module, "run_table_experiment", fail)
    out = tmp_path / "out"
    assert main(_argv("run", tmp_path, out)) == code
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert json.loads((out / MANIFEST_NAME).read_text())["status"] == status
    assert main(_argv("run", tmp_path, out)) == code  # same spec: no flag needed, not locked


def test_a_run_writes_its_manifest_and_files_follow_the_umask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = _argv("run", tmp_path, out)
    previous = os.umask(0o027)
    try:
        assert main(argv) == 0
    finally:
        os.umask(previous)
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["status"] == "complete" and manifest["command"] == ["emma", *argv]
    assert manifest["fingerprint"] == fingerprint(load_spec(Path(argv[1])).to_dict())
    for name in ("report.md", "results.json", MANIFEST_NAME):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640, name
    assert (out / LOCK_NAME).exists()
    # another spec into the same directory: refused, then cleared with --overwrite
    other = _spec(tmp_path, "other", training={"base_epochs": 1, "epochs": 2})
    assert main(["run", str(other), "--out", str(out), "--no-progress"]) == 2
    capsys.readouterr()
    (out / "stale.txt").write_text("left by the old run")
    assert main(["run", str(other), "--out", str(out), "--no-progress", "--overwrite"]) == 0
    assert not (out / "stale.txt").exists() and (out / "report.md").exists()


@pytest.mark.parametrize(
    "content", ['{"datasets": {"x": {}}}', '{"datasets": []}', "[1]", "{not json"]
)
def test_bench_report_refuses_a_damaged_results_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    (tmp_path / "results.json").write_text(content)
    assert main(["bench", "report", str(tmp_path)]) == 2
    err = _one_line_error(capsys)
    assert f"{tmp_path / 'results.json'}: not a results file" in err
