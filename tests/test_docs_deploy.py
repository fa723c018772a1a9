"""The "Your own data" guide (docs/deploy.md) and the README's Python snippet, run as written."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest

from emma_plugins.cli import main

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks(path: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(path.read_text()) if lang == language]


def test_the_guide_runs_from_csv_to_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    guide = ROOT / "docs" / "deploy.md"
    monkeypatch.chdir(tmp_path)
    (script,) = blocks(guide, "python")
    exec(compile(script, str(guide), "exec"), {})
    (spec,) = blocks(guide, "yaml")
    Path("sensors.yaml").write_text(spec)
    assert main(["validate", "sensors.yaml"]) == 0
    commands = [line for body in blocks(guide, "bash") for line in body.splitlines() if line]
    assert [c.split()[1] for c in commands] == ["fit", "predict", "export"]
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, capsys.readouterr().err
    out = pd.read_csv("predictions.csv")
    assert len(out) == 100
    assert out.loc[0, "gyro_failed"] and out.loc[1, "acc_failed"]
    assert out.loc[2:9, "temp_failed"].all()
    assert out.loc[2:9, "acc_failed"].mean() < 0.5  # the heater moves temp, not acc
    assert out.loc[10:, ["acc_failed", "gyro_failed", "temp_failed"]].to_numpy().mean() < 0.1
    assert Path("model.onnx").stat().st_size > 0


def test_the_readme_python_snippet_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Use it from Python") :]
    script = FENCE.search(section)
    assert script is not None and script.group(1) == "python"
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    exec(compile(script.group(2), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "mean_failed" in printed and "True" in printed
