"""The attention benchmark's quick mode keeps working (no timing assertions)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "attention_speed.py"


def test_quick_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("attention_speed", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(["--quick"])
    assert {row["M"] for row in rows} == {2, 4}
    assert all(row["emma_s"] > 0 and row["loop_s"] > 0 for row in rows)
    assert "loop/emma" in capsys.readouterr().out
