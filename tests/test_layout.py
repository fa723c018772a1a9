"""The library's tests stand on the library alone: the lab and plotting are not imported."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FORBIDDEN = ("emma_lab", "matplotlib")


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_library_test_imports_the_lab_or_plotting() -> None:
    offenders = {
        str(path.relative_to(TESTS)): sorted(imported_roots(path) & set(FORBIDDEN))
        for path in sorted(TESTS.rglob("*.py"))
        if imported_roots(path) & set(FORBIDDEN)
    }
    assert offenders == {}, "library tests must not need emma-lab or matplotlib installed"


def test_test_folders_mirror_the_library_packages() -> None:
    package = TESTS.parent / "emma_plugins"
    subpackages = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert subpackages <= folders, sorted(subpackages - folders)


def test_test_module_names_are_unique_across_the_repository() -> None:
    """pytest imports test modules by basename, so two suites must not share one."""
    suites = [TESTS, *sorted(TESTS.parent.glob("plugins/*/tests"))]
    names = [path.name for suite in suites for path in suite.rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
