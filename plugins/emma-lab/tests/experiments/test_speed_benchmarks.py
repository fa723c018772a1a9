"""The experiment and grid benchmarks' quick modes keep working (no timing assertions)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[4] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_experiment_speed_quick(capsys: pytest.CaptureFixture[str]) -> None:
    result = _load("experiment_speed").main(["--quick"])
    assert result["library_s"] > 0 and result["plain_s"] > 0
    assert result["ratio"] == pytest.approx(result["plain_s"] / result["library_s"])
    assert "ratio plain / library" in capsys.readouterr().out


def test_grid_speed_quick(capsys: pytest.CaptureFixture[str]) -> None:
    result = _load("grid_speed").main(["--quick"])
    assert result["per_config_s"] > 0
    assert result["selection_total_s"] == pytest.approx(125 * result["per_config_s"])
    assert result["total_s"] > result["selection_total_s"]
    out = capsys.readouterr().out
    assert "extrapolated selection of all 125" in out and "target 45 min" in out


def test_gpu_check_cpu_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CPU part on the bundled breast-cancer spec; the GPU steps only where CUDA is."""
    spec = BENCHMARKS.parent / "examples" / "breast-cancer.yaml"
    argv = ["--cpu-only", "--quick", "--spec", str(spec), "--out", str(tmp_path)]
    assert _load("gpu_check").main(argv) == 0
    out = capsys.readouterr().out
    assert "summary" in out and "one epoch (stage 2)" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [row["device"] for row in summary["rows"]] == ["cpu", "cpu"]
    assert 0 <= summary["rows"][0]["accuracy"] <= 1 and not summary["failures"]
