"""``emma fit`` and ``emma predict`` from the command line: a model directory, predictions,
a lock against a second writer, and a resume after SIGKILL that ends as if never killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from _deploy_samples import small_spec

from emma_plugins import parse_spec
from emma_plugins.cli import main
from emma_plugins.deploy import fit_model
from emma_plugins.rundir import RunLock
from emma_plugins.sources import load_breast_cancer


def write_spec(path: Path, **training: object) -> Path:
    path.write_text(yaml.safe_dump(small_spec(**training)))
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    spec = write_spec(root / "bc.yaml")
    assert main(["fit", str(spec), "--out", str(root / "model"), "--no-progress"]) == 0
    return root / "model"


def test_fit_writes_a_complete_model_directory(model_dir: Path) -> None:
    assert (model_dir / "deployment.json").is_file() and (model_dir / "run.json").is_file()
    assert '"status": "complete"' in (model_dir / "run.json").read_text()


def test_predict_writes_one_row_per_input_row(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = load_breast_cancer().features.iloc[:25]
    table.to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model_dir), str(tmp_path / "rows.csv"), "--out", str(out)]) == 0
    assert "25 rows" in capsys.readouterr().out
    assert len(pd.read_csv(out)) == 25


def test_predict_names_a_missing_column_in_one_line(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load_breast_cancer().features.iloc[:5, :12].to_csv(tmp_path / "rows.csv", index=False)
    assert main(["predict", str(model_dir), str(tmp_path / "rows.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "mode 'error' needs column" in err


def test_a_second_fit_into_a_locked_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path / "bc.yaml")
    (tmp_path / "out").mkdir()
    with RunLock(tmp_path / "out"):
        assert main(["fit", str(spec), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "lock" in capsys.readouterr().err.lower()


@pytest.mark.slow
def test_fit_killed_mid_run_resumes_to_the_uninterrupted_model(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    spec = write_spec(tmp_path / "bc.yaml", epochs=40, base_epochs=2)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "emma_plugins", "fit", str(spec), "--out", str(out)]
    process = subprocess.Popen([*command, "--no-progress"], env=os.environ.copy())
    state = out / "progress" / "emma.state.pt"
    deadline = time.monotonic() + 120
    while not state.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    assert not (out / "model.safetensors").exists()
    resumed = subprocess.run(
        [*command, "--resume", "--no-progress"], capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    whole = fit_model(parse_spec(yaml.safe_load(spec.read_text())), out=tmp_path / "whole")
    expected = whole.model.state_dict()
    got = load_file(str(out / "model.safetensors"))
    for key, value in expected.items():
        assert (got[key] - value).abs().max() <= 1e-5, key
