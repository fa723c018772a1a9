"""Output directories of runs: checked before any work, locked while a run writes, described
by a run manifest, and the only root that paths built from spec values may resolve into.

A command that writes a directory of results (the lab's ``emma run``, ``emma grid``,
``emma bench robustness``; a future ``emma fit``) wraps its work in `run_directory`:

- the directory is created and probed for writing first, so a file or an unwritable place
  given as ``--out`` fails in a second, not after the first seed has trained;
- ``DIR/.emma.lock`` is locked (``fcntl.flock``; ``msvcrt.locking`` on Windows) for the
  whole run; the operating system drops the lock when the process ends, even by SIGKILL,
  so a second run into the directory is refused while the first one is alive;
- ``DIR/run.json`` (`RunManifest`) is written first (``running``) and last (``complete``,
  ``failed`` or ``interrupted``), with the fingerprint of the run's settings, so a reader
  can tell which run the files belong to and whether it finished. A directory holding
  another run's outputs is reused only when asked: ``overwrite`` clears it first, ``resume``
  (commands that can resume) keeps it.

`inside` joins names from spec values (variant, baseline or data set names) onto such a
directory and refuses any that would resolve outside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from emma_plugins.atomic import write_atomic
from emma_plugins.core.errors import EmmaError

LOCK_NAME = ".emma.lock"
MANIFEST_NAME = "run.json"
MANIFEST_VERSION = 1
#: A run's states, as ``run.json`` records them.
STATUSES = ("running", "complete", "failed", "interrupted")


class OutputDirError(EmmaError):
    """An output directory cannot be used: not a directory, not writable, locked by another
    run, holding another run's outputs, or a path built from a spec value leaves it."""


class DirectoryLockedError(OutputDirError):
    """Another live process holds the directory's lock."""

    def __init__(self, message: str, *, holder: int | None) -> None:
        super().__init__(message)
        self.holder = holder


def fingerprint(settings: Any) -> str:
    """SHA-256 of the canonical JSON of ``settings`` (sorted keys, no spaces): the same
    settings give the same fingerprint whatever their key order or file format."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` if needed and prove it is a writable directory; return it."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"output directory {out} is a file, not a directory.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out, prefix=".emma-probe."):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputDirError(f"output directory {out} cannot be written: {reason}.") from None
    return out


def inside(root: str | os.PathLike[str], *names: str) -> Path:
    """``root / name / ...``, refused unless it resolves strictly inside ``root``.

    The names come from spec values (a variant's name, a data set's name), so ``..``, an
    absolute path, a NUL byte or a symbolic link leading out are all refused here, whatever
    validation the spec did before. The path returned is the plain join (not resolved), so
    it reads the way the caller built it.
    """
    base = Path(root)
    joined = base.joinpath(*names)
    shown = "/".join(names)
    try:
        if any(not name or "\x00" in name for name in names):
            raise ValueError
        resolved_base = base.resolve()
        resolved = joined.resolve()
    except (ValueError, OSError):
        raise OutputDirError(f"refusing the path {shown!r}: not a usable name.") from None
    if resolved == resolved_base or not resolved.is_relative_to(resolved_base):
        raise OutputDirError(
            f"refusing the path {shown!r}: it resolves to {resolved}, outside the output "
            f"directory {base}. Rename the spec entry it comes from."
        )
    return joined


class RunLock:
    """An exclusive, non-blocking OS lock on ``directory/.emma.lock`` holding our PID."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)  # never via a link
        try:
            fd = os.open(self.path, flags, 0o666)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OutputDirError(f"{self.path}: cannot open the lock file: {reason}.") from None
        try:
            _lock(fd)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"PID {holder}" if holder is not None else "a process whose PID is unknown"
            raise DirectoryLockedError(
                f"output directory {self.directory} is in use by another emma run ({who}); "
                "wait for it to finish or choose another --out.",
                holder=holder,
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            _unlock(fd)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii").strip()
        return int(text) if text.isdigit() else None
    except (OSError, UnicodeDecodeError):
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class RunManifest:
    """``run.json``: which settings a directory's outputs belong to and how the run ended."""

    fingerprint: str
    command: list[str]
    status: str = "running"
    started: str = field(default_factory=_now)
    finished: str | None = None
    pid: int = field(default_factory=os.getpid)
    version: int = MANIFEST_VERSION

    def write(self, directory: str | os.PathLike[str]) -> Path:
        text = json.dumps(asdict(self), indent=2) + "\n"
        return write_atomic(Path(directory) / MANIFEST_NAME, lambda h: h.write(text.encode()))


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "fingerprint": (str,),
    "status": (str,),
    "started": (str,),
    "finished": (str, type(None)),
    "pid": (int,),
    "version": (int,),
}


def read_manifest(directory: str | os.PathLike[str]) -> RunManifest | None:
    """The directory's ``run.json``, or ``None`` when it has none; a damaged one (not JSON,
    a folder, a field of the wrong type) is an `OutputDirError` naming the file and field."""
    path = Path(directory) / MANIFEST_NAME
    if not path.exists() and not path.is_symlink():
        return None
    if not path.is_file():
        raise OutputDirError(f"{path} is not a file; move it away or choose another --out.")
    try:
        payload = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise OutputDirError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg}).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputDirError(f"{path}: unreadable: {exc}.") from None
    if not isinstance(payload, dict):
        raise OutputDirError(f"{path}: expected a JSON object, got {type(payload).__name__}.")
    for name, types in (*_FIELD_TYPES.items(), ("command", (list,))):
        value = payload.get(name)
        wrong = isinstance(value, bool) or not isinstance(value, types)
        if name == "command" and isinstance(value, list):
            wrong = not all(isinstance(part, str) for part in value)
        if wrong:
            expected = {"command": "a list of strings", "finished": "a string or null"}.get(
                name, "an integer" if types == (int,) else "a string"
            )
            raise OutputDirError(f"{path}: field {name!r} must be {expected}, got {value!r}.")
    if payload["status"] not in STATUSES:
        raise OutputDirError(
            f"{path}: field 'status' must be one of {', '.join(STATUSES)}, "
            f"got {payload['status']!r}."
        )
    known = {*_FIELD_TYPES, "command"}
    return RunManifest(**{k: v for k, v in payload.items() if k in known})


def clear_outputs(directory: str | os.PathLike[str]) -> None:
    """Remove everything in ``directory`` but its lock file (links, not their targets)."""
    for entry in Path(directory).iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _check_reuse(
    out: Path, previous: RunManifest | None, key: str, *, overwrite: bool, resume: bool | None
) -> None:
    """Refuse a directory that holds another run's (or unknown) outputs, unless asked."""
    options = "pass --overwrite to clear it"
    if resume is not None:
        options += ", --resume to continue from it"
    if previous is None:
        others = sorted(p.name for p in out.iterdir() if p.name not in (LOCK_NAME, MANIFEST_NAME))
        if not others or resume:
            return
        listed = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise OutputDirError(
            f"output directory {out} is not empty ({listed}) and has no {MANIFEST_NAME}, so "
            "no emma run (of this version) wrote it; choose a new or empty directory"
            + ("" if overwrite else ", or clear it yourself")
            + "."
        )
    if previous.fingerprint == key or overwrite or resume:
        return
    # We hold the lock, so a run still marked running died without a word (SIGKILL).
    state = "unfinished, its process gone" if previous.status == "running" else previous.status
    raise OutputDirError(
        f"output directory {out} holds the outputs of another spec ({MANIFEST_NAME}: "
        f"{state}, started {previous.started}); {options}, or choose another --out."
    )


@contextlib.contextmanager
def run_directory(
    path: str | os.PathLike[str],
    *,
    settings_fingerprint: str,
    command: Sequence[str],
    overwrite: bool = False,
    resume: bool | None = None,
) -> Iterator[Path]:
    """Check, lock and describe the output directory of one run, for the run's duration.

    ``settings_fingerprint`` identifies what the run computes (`fingerprint` of its spec);
    ``resume`` is ``None`` for commands that cannot resume, else whether the user asked to.
    The manifest ends ``complete``, ``interrupted`` (KeyboardInterrupt) or ``failed``.
    """
    if overwrite and resume:
        raise OutputDirError("--overwrite and --resume exclude each other; choose one.")
    out = check_output_dir(path)
    with RunLock(out):
        previous = read_manifest(out)
        _check_reuse(out, previous, settings_fingerprint, overwrite=overwrite, resume=resume)
        if overwrite:
            clear_outputs(out)
        manifest = RunManifest(settings_fingerprint, list(command))
        manifest.write(out)
        try:
            yield out
        except BaseException as exc:
            manifest.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            manifest.finished = _now()
            with contextlib.suppress(OSError):  # e.g. the disk that failed the run is full
                manifest.write(out)
            raise
        manifest.status, manifest.finished = "complete", _now()
        manifest.write(out)
