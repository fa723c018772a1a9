"""Shared fixtures: a clean plugin state, and fake installed distributions for plugin tests.

Property tests draw 40 examples each in the default run, which keeps the library's suite
fast; ``HYPOTHESIS_PROFILE=thorough`` draws 500 (tests that set their own count keep it).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import settings

from emma_plugins.core.plugins import NO_AUTOLOAD_ENV, STRICT_ENV, reset_plugins

FakeDist = Callable[..., Path]

settings.register_profile("fast", max_examples=40)
settings.register_profile("thorough", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    """The suite's models are tiny: one thread is faster and fair to a shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def clean_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Plugins load afresh in this test, without the loading flags, and are forgotten after."""
    monkeypatch.delenv(STRICT_ENV, raising=False)
    monkeypatch.delenv(NO_AUTOLOAD_ENV, raising=False)
    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDist]:
    """Install a fake distribution on ``sys.path``: a ``*.dist-info`` with entry points.

    ``fake_dist("emma-broken", {"broken": "emma_broken"}, {"emma_broken": "raise ..."})``
    writes the modules' sources and the metadata, as ``pip install`` would.
    """
    modules_made: list[str] = []

    def make(
        dist: str, entry_points: dict[str, str], modules: dict[str, str] | None = None
    ) -> Path:
        root = tmp_path / f"site-{dist}"
        info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        lines = [f"{name} = {value}" for name, value in entry_points.items()]
        (info / "entry_points.txt").write_text("[emma_plugins]\n" + "\n".join(lines) + "\n")
        for module, source in (modules or {}).items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            modules_made.append(module)
        monkeypatch.syspath_prepend(str(root))
        return root

    yield make
    for module in modules_made:
        sys.modules.pop(module, None)
