"""``emma demo``: Experiment I end to end through the CLI, with tiny settings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from emma_lab.commands.demo import DEFAULTS

from emma_plugins import cli, get_registry


def test_demo_is_a_registered_command_with_documented_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert get_registry("command").get("demo").provider == "emma-lab"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--help"])
    assert exit_info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {DEFAULTS.epochs})" in help_text
    assert f"(default: {DEFAULTS.points})" in help_text
    assert "--no-progress" in help_text


def test_demo_runs_end_to_end_and_prints_energies_and_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--epochs", "2", "--points", "300", "--seed", "4"]
    assert cli.main([*argv, "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # --no-progress hides the bars
    lines = captured.out.splitlines()
    assert "300 points, 2 epochs, seed 4" in lines[0]
    rows = [line.split() for line in lines if line.startswith(("wave ", "circle "))]
    assert [row[0] for row in rows] == ["wave", "wave", "circle", "circle"]
    for row in rows:
        on, off, origin = (float(value) for value in row[-4:-1])
        assert all(map(math.isfinite, (on, off, origin)))
        assert row[-1].endswith("%") and 0 <= float(row[-1][:-1]) <= 100
    figures = [Path(line.split()[-1]) for line in lines if line.strip().endswith(".png")]
    assert sorted(path.name for path in figures) == [
        "fig4_6_vector_fields.png",
        "fig4_7_heat_maps.png",
    ]
    for path in figures:
        assert path.parent == out
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("flag", ["--epochs", "--points"])
def test_demo_rejects_non_positive_sizes(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", flag, "0"])
    assert exit_info.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err
