"""Checksum-verified downloads: fetch to a temporary file, verify, extract safely, rename.

Nothing half-downloaded or unverified is ever left under its final name: files land in a
temporary folder beside their destination and are moved in with an atomic rename only
after their digest matched. Every failure is a `DataError` that says how to supply the
files by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.error import URLError
from urllib.request import Request, urlopen

from tqdm.auto import tqdm

from emma_plugins.atomic import write_atomic
from emma_plugins.core.errors import DataError

DEFAULT_TIMEOUT = 60.0
#: Refuse archives that would unpack to more than this (a guard against zip bombs).
MAX_EXTRACTED_BYTES = 1 << 30
CHUNK = 1 << 16
#: Archives inside the downloaded zip that are unpacked too (one level deep).
NESTED_ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz")
USER_AGENT = "emma-plugins (+https://pypi.org/project/emma-plugins/)"

Digest = Callable[[Path], str]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            sha.update(chunk)
    return sha.hexdigest()


def url_from_env(default: str, env: str) -> str:
    """``$env`` when set (to point downloads at a mirror or a test server), else ``default``."""
    return os.environ.get(env, "").strip() or default


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str | Collection[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
    manual: str = "",
) -> Path:
    """Download ``url`` to ``dest`` via a temporary file and an atomic rename.

    ``sha256`` (one digest or several accepted ones) is checked before the rename; on a
    mismatch the download is deleted. ``progress=None`` shows a bar only on a terminal.
    """
    dest = Path(dest)
    _mkdir(dest.parent, manual)

    def download_into(out: IO[bytes]) -> None:
        _stream(url, out, timeout=timeout, progress=progress, label=dest.name)
        out.flush()
        if sha256 is not None:  # checked before the rename: a bad download never lands
            _check_digest(Path(out.name), _accepted(sha256), file_sha256, what=url, manual=manual)

    try:
        return write_atomic(dest, download_into)  # the umask's file mode, like any output
    except (URLError, OSError, ValueError, http.client.HTTPException) as exc:
        raise DataError(f"Could not download {url}: {exc}. {manual}".strip()) from exc


def fetch_archive(
    url: str,
    dest_dir: Path,
    expected: Mapping[str, str | Collection[str]],
    *,
    digest: Digest = file_sha256,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
    manual: str = "",
) -> dict[str, Path]:
    """Download a zip, extract it safely and move the ``expected`` members into ``dest_dir``.

    ``expected`` maps a member's file name (found at any depth, also inside a ``.zip`` or
    ``.tar`` nested in the zip) to its accepted digest(s) under ``digest``. Either every member
    verifies and is moved in, or none is and a `DataError` explains why.
    """
    dest_dir = Path(dest_dir)
    _mkdir(dest_dir, manual)
    try:
        return _fetch_into(url, dest_dir, expected, digest, timeout, progress, manual)
    except OSError as exc:
        raise DataError(
            f"Cannot write the download into {dest_dir}: {exc}. {manual}".strip()
        ) from exc


def _fetch_into(
    url: str,
    dest_dir: Path,
    expected: Mapping[str, str | Collection[str]],
    digest: Digest,
    timeout: float,
    progress: bool | None,
    manual: str,
) -> dict[str, Path]:
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".download-") as scratch:
        archive = download_file(
            url, Path(scratch) / "archive.zip", timeout=timeout, progress=progress, manual=manual
        )
        try:
            files = extract_zip(archive, Path(scratch) / "unpacked")
            for nested in [f for f in files if f.name.endswith(NESTED_ARCHIVES)]:
                unpack = extract_zip if nested.suffix == ".zip" else extract_tar
                files += unpack(nested, nested.parent / f"{nested.name}.unpacked")
        except (zipfile.BadZipFile, tarfile.TarError) as exc:
            raise DataError(f"{url} is not a valid archive ({exc}). {manual}".strip()) from exc
        found: dict[str, Path] = {}
        for member, accepted in expected.items():
            matches = [f for f in files if f.name == member]
            if not matches:
                names = sorted(f.name for f in files)
                raise DataError(
                    f"{url} holds no file named {member!r} (it holds {names}). {manual}".strip()
                )
            _check_digest(matches[0], _accepted(accepted), digest, what=member, manual=manual)
            found[member] = matches[0]
        moved = {}
        for member, path in found.items():
            moved[member] = dest_dir / member
            os.replace(path, moved[member])
    return moved


def extract_zip(
    archive: Path, dest_dir: Path, *, max_bytes: int = MAX_EXTRACTED_BYTES
) -> list[Path]:
    """Extract the regular files of a zip into ``dest_dir``, refusing unsafe member paths."""
    written: list[Path] = []
    with zipfile.ZipFile(archive) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir() and not _zip_is_link(i)]
        _check_size(sum(i.file_size for i in infos), max_bytes, archive)
        for info in infos:
            target = _safe_target(dest_dir, info.filename, archive)
            with zf.open(info) as source:
                written.append(_write(source, target))
    return written


def extract_tar(
    archive: Path, dest_dir: Path, *, max_bytes: int = MAX_EXTRACTED_BYTES
) -> list[Path]:
    """Extract the regular files of a tar into ``dest_dir``, refusing unsafe member paths."""
    written: list[Path] = []
    with tarfile.open(archive) as tf:
        members = [m for m in tf.getmembers() if m.isfile()]
        _check_size(sum(m.size for m in members), max_bytes, archive)
        for member in members:
            target = _safe_target(dest_dir, member.name, archive)
            source = tf.extractfile(member)
            if source is not None:
                with source:
                    written.append(_write(source, target))
    return written


# -- helpers -------------------------------------------------------------------------------
def _stream(url: str, out: IO[bytes], *, timeout: float, progress: bool | None, label: str) -> None:
    request = Request(url, headers={"User-Agent": USER_AGENT})
    with urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        disable = None if progress is None else not progress
        with tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=disable) as bar:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _accepted(digests: str | Collection[str]) -> set[str]:
    return {digests.lower()} if isinstance(digests, str) else {d.lower() for d in digests}


def _check_digest(
    path: Path, accepted: set[str], digest: Digest, *, what: str, manual: str
) -> None:
    found = digest(path)
    if found not in accepted:
        path.unlink(missing_ok=True)
        raise DataError(
            f"Checksum mismatch for {what}: got {found}, expected "
            f"{' or '.join(sorted(accepted))}. The file was deleted. {manual}".strip()
        )


def _safe_target(dest_dir: Path, name: str, archive: Path) -> Path:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise DataError(f"Refusing unsafe path {name!r} in archive {archive.name}.")
    target = dest_dir.joinpath(*parts)
    if not target.resolve().is_relative_to(dest_dir.resolve()):
        raise DataError(f"Refusing unsafe path {name!r} in archive {archive.name}.")
    return target


def _zip_is_link(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def _check_size(total: int, max_bytes: int, archive: Path) -> None:
    if total > max_bytes:
        raise DataError(
            f"Archive {archive.name} would unpack to {total} bytes, more than the {max_bytes} "
            "allowed; it is not the expected data set."
        )


def _write(source: IO[bytes], target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK)
    return target


def _mkdir(path: Path, manual: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"Cannot create {path} to download into: {exc}. {manual}".strip()) from exc
