"""Data paths in specs stay inside the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from emma_plugins.core.errors import SpecError
from emma_plugins.spec import check_data_path, resolve_data_path


@pytest.mark.parametrize("good", ["htru2", "htru2/HTRU_2.csv", "./mfeat", "a.b/c"])
def test_relative_paths_pass(good: str) -> None:
    assert check_data_path(good) == good


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("/etc/passwd", "absolute"),
        ("C:\\data", "absolute"),
        ("\\\\server\\share", "absolute"),
        ("~/data", "absolute"),
        ("../outside", "'..'"),
        ("a/b/../c", "'..'"),
        ("htru2\\..\\..\\x", "'..'"),
        ("  ", "must not be empty"),
    ],
)
def test_escaping_paths_are_refused(bad: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        check_data_path(bad)


def test_resolve_joins_under_the_root(tmp_path: Path) -> None:
    assert resolve_data_path("htru2/HTRU_2.csv", tmp_path) == tmp_path / "htru2" / "HTRU_2.csv"


def test_resolve_refuses_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(SpecError, match="outside the data directory"):
        resolve_data_path("link/file.csv", root)
    with pytest.raises(SpecError, match="absolute"):
        resolve_data_path("/etc", root)
