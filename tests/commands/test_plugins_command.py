"""``emma plugins``: kinds with their providers, and plugins that failed to load."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from emma_plugins.cli import main
from emma_plugins.core.plugins import (
    ALL_FAMILIES,
    NO_AUTOLOAD_ENV,
    STRICT_ENV,
    EmmaPluginWarning,
    reset_plugins,
)

pytestmark = pytest.mark.usefixtures("clean_plugins")

FakeDist = Callable[..., Path]  # the `fake_dist` fixture of conftest.py
BROKEN = {"emma_broken_cli": "raise RuntimeError('boom')\n"}


def row(kind: str, provider: str) -> re.Pattern[str]:
    return re.compile(rf"^  {re.escape(kind)} +{re.escape(provider)}$", re.MULTILINE)


def emma(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``emma`` console script, as a user would."""
    script = Path(sys.executable).with_name("emma")
    clean = {k: v for k, v in os.environ.items() if k not in (STRICT_ENV, NO_AUTOLOAD_ENV)}
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env={**clean, **env}, timeout=120
    )


def test_lists_every_family_with_kinds_and_providers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert row("dae", "emma-plugins").search(out)
    assert row("gaussian", "emma-gaussian").search(out)
    headers = [line[:-1] for line in out.splitlines() if not line.startswith(" ")]
    assert headers == list(ALL_FAMILIES)
    assert "failed to load" not in out


@pytest.mark.slow  # a real `emma` process: seconds of start-up, so it runs with -m slow
def test_the_console_script_lists_installed_and_broken_plugins(fake_dist: FakeDist) -> None:
    """One real ``emma`` process: the installed estimator distribution is listed and a broken
    one on its path is reported, not fatal (strict mode is covered in-process below)."""
    root = fake_dist("emma-broken", {"broken": "emma_broken_cli"}, BROKEN)
    result = emma("plugins", PYTHONPATH=str(root))
    assert result.returncode == 0, result.stderr
    assert row("dae", "emma-plugins").search(result.stdout)
    assert row("gaussian", "emma-gaussian").search(result.stdout)
    assert "failed to load:\n  broken" in result.stdout
    assert "emma-broken: import failed: RuntimeError: boom" in result.stdout
    assert "EmmaPluginWarning" in result.stderr


def test_a_broken_plugin_is_fatal_in_strict_mode(
    fake_dist: FakeDist, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_dist("emma-broken", {"broken": "emma_broken_cli"}, BROKEN)
    monkeypatch.setenv(STRICT_ENV, "1")
    assert main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Plugin 'broken' from 'emma-broken' failed to load")


def test_broken_plugin_is_listed_under_failed_to_load(
    fake_dist: FakeDist, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_dist("emma-broken", {"broken": "emma_broken_cli"}, BROKEN)
    with pytest.warns(EmmaPluginWarning, match="'broken' from 'emma-broken'"):
        assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    failed = out[out.index("failed to load:") :].splitlines()
    assert re.fullmatch(r"  broken +emma-broken: import failed: RuntimeError: boom", failed[1])
    assert row("gaussian", "emma-gaussian").search(out)


def test_disable_autoload_lists_only_builtins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(NO_AUTOLOAD_ENV, "1")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert row("dae", "emma-plugins").search(out)
    assert "emma-gaussian" not in out


def test_a_duplicate_kind_keeps_the_first_and_is_listed_not_fatal(
    fake_dist: FakeDist, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        "from emma_plugins import hookimpl\n"
        "from emma_plugins.estimators import TiedDAE\n\n"
        "@hookimpl\n"
        "def register_estimators(register):\n"
        "    register('dae', TiedDAE)\n"
    )
    fake_dist("emma-copycat", {"copycat": "emma_copycat_cli"}, {"emma_copycat_cli": source})
    with pytest.warns(EmmaPluginWarning, match="registers a kind that already exists"):
        assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  dae +emma-plugins$", out, re.MULTILINE)
    assert "failed to load:\n  copycat" in out
    assert "Duplicate estimator kind 'dae': registered by 'emma-plugins' and again by " in out
    reset_plugins()
    monkeypatch.setenv(STRICT_ENV, "1")
    assert main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Plugin 'copycat' from 'emma-copycat' failed to load: Duplicate")
