"""``emma validate``: a one-line summary per valid file, located problems and exit 2 otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from _spec_samples import HTRU2_TOML, HTRU2_YAML

from emma_plugins.cli import main

INVALID = Path(__file__).parents[1] / "spec" / "files" / "invalid"


def test_valid_specs_exit_zero_with_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(HTRU2_YAML), str(HTRU2_TOML)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{HTRU2_YAML}: valid (spec_version 1; 2 modes: ip[4] dae")
    assert "min_shift > coupled > boltzmann > shared_tanh on inputs" in lines[0]
    assert "network mlp -> 1 output(s)" in lines[0]


def test_invalid_spec_prints_its_problems_and_exits_two(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = INVALID / "misspelt_param.yaml"
    assert main(["validate", str(HTRU2_YAML), str(bad)]) == 2
    captured = capsys.readouterr()
    assert f"{HTRU2_YAML}: valid" in captured.out
    assert "modes[1].estimator.hiden: unknown key 'hiden'. Did you mean 'hidden'?" in captured.err
