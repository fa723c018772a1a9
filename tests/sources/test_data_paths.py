"""Data directory resolution: argument, spec, EMMA_DATA_DIR, then the user cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from emma_plugins.sources.paths import DATA_DIR_ENV, resolve_data_dir, user_cache_dir


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


def test_order_of_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg", tmp_path / "spec") == tmp_path / "arg"
    assert resolve_data_dir(None, tmp_path / "spec") == tmp_path / "spec"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv(DATA_DIR_ENV)
    assert resolve_data_dir() == user_cache_dir()


def test_cache_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert user_cache_dir() == Path.home() / ".cache" / "emma_plugins"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert user_cache_dir() == tmp_path / "emma_plugins"


def test_home_is_expanded() -> None:
    assert resolve_data_dir("~/data") == Path.home() / "data"
