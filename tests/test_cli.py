"""``emma``'s exit statuses: Ctrl-C and a full disk are one line each, never a traceback."""

from __future__ import annotations

import argparse
import errno
from collections.abc import Callable
from typing import Any

import pytest

from emma_plugins import cli


def _parser_raising(error: BaseException) -> Callable[[], argparse.ArgumentParser]:
    def build() -> argparse.ArgumentParser:
        def handler(args: argparse.Namespace) -> int:
            raise error

        parser = argparse.ArgumentParser(prog="emma")
        parser.set_defaults(handler=handler)
        return parser

    return build


def _run(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> Any:
    monkeypatch.setattr(cli, "build_parser", _parser_raising(error))
    return cli.main([])


def test_ctrl_c_prints_one_line_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(monkeypatch, KeyboardInterrupt()) == 130
    captured = capsys.readouterr()
    assert captured.err == "interrupted\n" and captured.out == ""


@pytest.mark.parametrize("code", sorted(cli.DISK_FULL))
def test_a_full_disk_prints_the_path_in_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code: int
) -> None:
    error = OSError(code, "No space left on device", "/runs/out/results.csv")
    assert _run(monkeypatch, error) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: /runs/out/results.csv: ")


def test_other_os_errors_are_not_disguised(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PermissionError):
        _run(monkeypatch, PermissionError(errno.EACCES, "Permission denied", "/x"))


def test_the_command_line_reaches_the_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def build() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="emma")
        parser.add_argument("spec")
        parser.set_defaults(handler=lambda args: seen.append(args.argv) or 0)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)
    assert cli.main(["a.yaml"]) == 0 and seen == [["emma", "a.yaml"]]
