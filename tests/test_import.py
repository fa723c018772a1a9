"""``import emma_plugins`` stays light, and every subpackage states its public names."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import emma_plugins

#: Imported where they are used, never by ``import emma_plugins`` (see benchmarks/import_time.py).
HEAVY = ("pandas", "matplotlib", "scipy", "sklearn", "emma_lab")

SUBPACKAGES = sorted(
    info.name for info in pkgutil.iter_modules(emma_plugins.__path__) if info.ispkg
)


def test_import_does_not_load_heavy_modules() -> None:
    code = f"import sys, emma_plugins; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"import emma_plugins loaded {result.stdout.strip()}"


def test_there_are_subpackages() -> None:
    assert {"core", "spec", "estimators", "assembly", "training"} <= set(SUBPACKAGES)


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_subpackage_declares_all(name: str) -> None:
    module = importlib.import_module(f"emma_plugins.{name}")
    assert "__all__" in vars(module), f"emma_plugins.{name} has no __all__"
    exported = module.__all__
    assert len(set(exported)) == len(exported), f"emma_plugins.{name}.__all__ repeats a name"
    missing = [item for item in exported if not hasattr(module, item)]
    assert missing == [], f"emma_plugins.{name}.__all__ names what it lacks: {missing}"


def test_the_package_root_exports_resolve() -> None:
    assert [item for item in emma_plugins.__all__ if not hasattr(emma_plugins, item)] == []
