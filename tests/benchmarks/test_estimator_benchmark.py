"""The estimator benchmark's quick mode keeps working (no timing assertions)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "estimator_speed.py"

pytest.importorskip("emma_cnn")
pytest.importorskip("emma_lstm")


def test_quick_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("estimator_speed", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(["--quick", "--threads", "1"])
    assert [row["kind"] for row in rows] == ["cnn", "lstm"]
    for row in rows:
        assert row["phi_ms"] > 0 and row["s/epoch"] > 0
        assert row["potential/phi"] > 0 and row["scores/phi"] > 0
    out = capsys.readouterr().out
    assert "potential/phi" in out and "scores/phi" in out
