"""An append-only JSON-lines log: one finished job per line (a grid configuration, a bench
seed), so a run can resume.

Each line is flushed and fsynced as soon as its job finishes. After a crash the last line
may be cut short; reading drops it (and trims it from the file, so the next append starts
on a fresh line). A damaged line anywhere else is an error, since it means the file was
edited or belongs to something else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emma_plugins.core.errors import EmmaError


class JobLog:
    """Finished jobs in ``path`` (``grid.jsonl``, a bench's ``seeds.jsonl``), one JSON object
    per line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(
        self, check: Callable[[dict[str, Any]], str | None] | None = None
    ) -> list[dict[str, Any]]:
        """Every complete record; a truncated last line is dropped and trimmed from the file.

        ``check(record)`` returns what is wrong with a record (a field of the wrong type),
        or ``None``; a problem is an `EmmaError` naming the file and the line.
        """
        if not self.path.exists() and not self.path.is_symlink():
            return []
        self._require_file()
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        records: list[dict[str, Any]] = []
        good_bytes = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                good_bytes += len(line) + 1
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                if any(rest.strip() for rest in lines[number:]):
                    raise EmmaError(
                        f"{self.path}: line {number} is not valid JSON and is not the last "
                        "line, so the file was not written by an interrupted grid. Move it "
                        "away or pick another output directory."
                    ) from None
                self._trim(good_bytes)
                break
            if not isinstance(record, dict):
                raise EmmaError(f"{self.path}: line {number} is not a JSON object.")
            problem = check(record) if check is not None else None
            if problem is not None:
                raise EmmaError(
                    f"{self.path}: line {number}: {problem}; the file was edited or belongs to "
                    "something else. Move it away or pick another output directory."
                )
            records.append(record)
            good_bytes += len(line) + 1
        else:
            if raw and not raw.endswith(b"\n"):  # complete record, newline lost: restore it
                with self.path.open("ab") as handle:
                    handle.write(b"\n")
        return records

    def _require_file(self) -> None:
        if not self.path.is_file():
            raise EmmaError(
                f"{self.path} is not a file (a folder or a broken link stands in its place); "
                "move it away or pick another output directory."
            )

    def _trim(self, size: int) -> None:
        with self.path.open("r+b") as handle:
            handle.truncate(size)
            handle.flush()
            os.fsync(handle.fileno())

    def append(self, record: dict[str, Any]) -> None:
        """Add one record as one line, durably (flush and fsync) before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            self._require_file()
        line = json.dumps(record, default=float) + "\n"
        try:
            with self.path.open("ab") as handle:
                handle.write(line.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:  # a full disk: name the file (a cut line is dropped on resume)
            if exc.filename is not None or exc.errno is None:
                raise
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
