"""The committed spec reference (docs/spec.md) matches what the schema generates."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from emma_plugins.core.plugins import PluginHost
from emma_plugins.spec.reference import spec_reference_markdown

GENERATOR = Path(__file__).resolve().parents[2] / "docs" / "gen_spec_reference.py"


def load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_spec_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_reference_is_up_to_date() -> None:
    generator = load_generator()
    page = generator.PAGE.read_text(encoding="utf-8")
    assert generator.render(page) == page, "run: python docs/gen_spec_reference.py"


def test_reference_documents_every_section_and_builtin_kind() -> None:
    text = spec_reference_markdown()
    for heading in ("#### `modes[]`", "#### `attention`", "#### `data`", "#### `training`"):
        assert heading in text
    host = PluginHost(autoload=False)
    for family in ("estimator", "gate", "network", "dataset"):
        for kind in host.registry(family).kinds():
            assert f"##### `{kind}` (emma-plugins)" in text
    assert "| `hidden` | integer | `12` | >= 1 |" in text
    # Installed plugins do not leak into the committed page (the built-in corruption kind
    # `gaussian` is listed, the emma-gaussian estimator plugin is not).
    assert "emma-gaussian" not in text and "##### `gaussian` (emma-plugins)" in text
