"""The grid's append-only JSON-lines log: one finished job per line, so a run can resume.

Each line is flushed and fsynced as soon as its job finishes. After a crash the last line
may be cut short; reading drops it (and trims it from the file, so the next append starts
on a fresh line). A damaged line anywhere else is an error, since it means the file was
edited or belongs to something else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from emma_plugins.core.errors import EmmaError


class GridLog:
    """Finished grid jobs in ``path`` (``grid.jsonl``), one JSON object per line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> list[dict[str, Any]]:
        """Every complete record; a truncated last line is dropped and trimmed from the file."""
        if not self.path.exists():
            return []
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
            except json.JSONDecodeError:
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
            records.append(record)
            good_bytes += len(line) + 1
        else:
            if raw and not raw.endswith(b"\n"):  # complete record, newline lost: restore it
                with self.path.open("ab") as handle:
                    handle.write(b"\n")
        return records

    def _trim(self, size: int) -> None:
        with self.path.open("r+b") as handle:
            handle.truncate(size)
            handle.flush()
            os.fsync(handle.fileno())

    def append(self, record: dict[str, Any]) -> None:
        """Add one record as one line, durably (flush and fsync) before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, default=float) + "\n"
        with self.path.open("ab") as handle:
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
