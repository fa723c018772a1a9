"""``emma build``: prints what the spec assembles."""

from __future__ import annotations

import pytest
from _spec_samples import HTRU2_YAML

from emma_plugins.cli import main


def test_build_prints_modes_stages_network_and_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(HTRU2_YAML)]) == 0
    out = capsys.readouterr().out
    assert "modes (2):" in out
    assert "ip           [4]  dae(hidden=12" in out
    assert "importance    boltzmann(rho=0.0001, learnable=False)" in out
    assert "network: mlp(" in out and "113 parameters" in out
    assert "parameters: 255 in all, 127 trainable" in out


def test_build_modules_flag_prints_the_module_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--modules", str(HTRU2_YAML)]) == 0
    assert "EmmaModel(" in capsys.readouterr().out


def test_build_of_a_missing_spec_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "does-not-exist.yaml"]) == 2
    assert "spec file not found" in capsys.readouterr().err
