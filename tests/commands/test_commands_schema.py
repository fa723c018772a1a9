"""``emma schema``: the JSON schema on stdout or in a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emma_plugins.cli import main


def test_schema_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "EMMA spec"
    assert "spec_version" in schema["required"]


def test_schema_to_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "emma.schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert "ModeSpec" in json.loads(out.read_text())["$defs"]
