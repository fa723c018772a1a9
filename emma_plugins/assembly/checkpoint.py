"""Save and load an `EmmaModel`: safetensors weights plus the spec as JSON, no pickled code.

A checkpoint is a directory of files, each written atomically (temporary file in the same
directory, fsync, ``os.replace``), the manifest last:

* ``model.safetensors``: the state dict;
* ``spec.json``: the spec, a valid spec file on its own;
* ``deployment.json``, for a model trained by `emma fit`: its columns, scaler, class names
  and failure thresholds (`emma_plugins.assembly.deployment.Deployment`);
* any extra files the caller adds (``history.csv``);
* ``checkpoint.json``: the format version and the SHA-256 and size of every other file.

The same directory is a **model directory**: `EmmaModel.save_pretrained` and
`EmmaModel.from_pretrained` write and read it.

Loading rebuilds the model from the spec through the registries and refuses anything that
disagrees: a file changed or truncated since it was saved, tensors missing, unexpected or
of another shape.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins._version import __version__
from emma_plugins.assembly.builder import build
from emma_plugins.assembly.deployment import Deployment
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.atomic import write_atomic
from emma_plugins.core.errors import CheckpointError, SpecError
from emma_plugins.spec import parse_spec
from emma_plugins.spec.load import read_spec_text

FORMAT = "emma-checkpoint"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
SPEC_FILE = "spec.json"
DEPLOYMENT_FILE = "deployment.json"
MANIFEST_FILE = "checkpoint.json"


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` atomically (`write_atomic`), then make the rename itself durable."""
    write_atomic(path, lambda handle: handle.write(data))
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _digest(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def save(
    model: EmmaModel,
    directory: str | os.PathLike[str],
    *,
    extras: Mapping[str, bytes] | None = None,
) -> Path:
    """Write ``model``'s weights, spec and deployment record to ``directory`` (created if
    needed); returns it. ``extras`` maps plain file names to contents stored beside them
    and listed in the manifest (``{"history.csv": ...}``)."""
    if not isinstance(model, EmmaModel):
        raise TypeError(f"save() takes an EmmaModel, got {type(model).__name__}.")
    from safetensors.torch import save as save_tensors

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    # Cloning gives every tensor its own storage: safetensors refuses shared storage.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    weights = save_tensors(tensors, metadata={"format": FORMAT, "version": str(FORMAT_VERSION)})
    spec = (json.dumps(model.spec.to_dict(), indent=2) + "\n").encode()
    network = type(model.network)
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "emma_plugins": __version__,
        "weights": {"file": WEIGHTS_FILE, **_digest(weights)},
        "spec": {"file": SPEC_FILE, **_digest(spec)},
        "network": {
            "source": model.network_source,
            "class": f"{network.__module__}.{network.__qualname__}",
        },
    }
    files = {WEIGHTS_FILE: weights, SPEC_FILE: spec}
    if model.deployment is not None:
        files[DEPLOYMENT_FILE] = (model.deployment.model_dump_json(indent=2) + "\n").encode()
        manifest["deployment"] = {"file": DEPLOYMENT_FILE, **_digest(files[DEPLOYMENT_FILE])}
    for name, data in (extras or {}).items():
        if not _is_plain_name(name) or name in files or name == MANIFEST_FILE:
            raise ValueError(f"extra file {name!r} must be a new plain file name.")
        files[name] = data
    manifest["extras"] = {name: _digest(data) for name, data in (extras or {}).items()}
    for name, data in files.items():
        _write_atomic(target / name, data)
    _write_atomic(target / MANIFEST_FILE, (json.dumps(manifest, indent=2) + "\n").encode())
    return target


def load(
    directory: str | os.PathLike[str],
    network: nn.Module | None = None,
    *,
    max_parameters: int | None = None,
    device: str | torch.device | None = None,
) -> EmmaModel:
    """Rebuild the model saved in ``directory`` and load its weights; returned in eval mode,
    on ``device`` (default: the CPU; weights are stored from the CPU, so any device loads).

    A checkpoint of a model built with a user network needs that network again:
    ``load(directory, network=MyNet(...))``. The stored spec's model is measured before it
    is built, and refused above ``max_parameters`` (see `build`).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    root = Path(directory)
    manifest = _read_manifest(root)
    spec_bytes = _read_checked(root, manifest, "spec")
    weight_bytes = _read_checked(root, manifest, "weights")
    saved_network = manifest.get("network", {})
    if saved_network.get("source") == "user" and network is None:
        raise CheckpointError(
            f"{root}: this checkpoint was saved with a user network "
            f"({saved_network.get('class', 'unknown class')}); pass it again with "
            "load(directory, network=...)."
        )
    try:
        source = str(root / SPEC_FILE)
        data = read_spec_text(spec_bytes.decode("utf-8"), ".json", source)
        spec = parse_spec(data, source=source)
    except (SpecError, ValueError) as exc:
        raise CheckpointError(f"{root}: the stored spec is not valid here: {exc}") from exc
    try:
        tensors = load_tensors(weight_bytes)
    except SafetensorError as exc:
        raise CheckpointError(f"{root / WEIGHTS_FILE}: unreadable safetensors file: {exc}") from exc
    model = build(spec, network=network, max_parameters=max_parameters)
    _check_tensors(root, model, tensors)
    model.load_state_dict(tensors, strict=True)
    if "deployment" in manifest:
        model.deployment = _read_deployment(root, _read_checked(root, manifest, "deployment"))
    if device is not None:
        model.to(device)
    return model.eval()


def _read_deployment(root: Path, data: bytes) -> Deployment:
    try:
        return Deployment.model_validate_json(data)
    except ValueError as exc:
        raise CheckpointError(
            f"{root / DEPLOYMENT_FILE}: not a valid deployment record: {exc}"
        ) from exc


def read_extra(directory: str | os.PathLike[str], name: str) -> bytes:
    """An extra file saved with the checkpoint (``history.csv``), checked against the manifest."""
    root = Path(directory)
    manifest = _read_manifest(root)
    digests = manifest.get("extras", {})
    if name not in digests:
        raise CheckpointError(f"{root}: the checkpoint has no extra file {name!r}.")
    return _read_checked(root, {name: {"file": name, **digests[name]}}, name)


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST_FILE
    if not path.is_file():
        raise CheckpointError(
            f"{root} is not an EMMA checkpoint: {MANIFEST_FILE} is missing (a save that was "
            "interrupted, or a directory written by something else)."
        )
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: unreadable manifest: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an {FORMAT} manifest.")
    if manifest.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {manifest.get('version')!r}; this version of "
            f"emma_plugins reads version {FORMAT_VERSION}."
        )
    return manifest


def _read_checked(root: Path, manifest: Mapping[str, Any], entry: str) -> bytes:
    """A file listed in the manifest, refused if its size or SHA-256 changed since saving."""
    expected = manifest.get(entry)
    if not isinstance(expected, Mapping) or not {"file", "sha256", "bytes"} <= set(expected):
        raise CheckpointError(f"{root / MANIFEST_FILE}: no complete entry for {entry!r}.")
    name, size, digest = expected["file"], expected["bytes"], expected["sha256"]
    if not (isinstance(name, str) and isinstance(digest, str) and type(size) is int):
        raise CheckpointError(
            f"{root / MANIFEST_FILE}: the {entry!r} entry needs a file name, a sha256 string "
            f"and an integer byte count; got {name!r}, {digest!r}, {size!r}."
        )
    if not _is_plain_name(name):
        raise CheckpointError(
            f"{root / MANIFEST_FILE}: the {entry!r} file {name!r} is not a plain file name "
            "inside the checkpoint folder; refusing to read outside it."
        )
    path = root / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read it: {exc}") from exc
    if len(data) != expected["bytes"]:
        how = "shorter" if len(data) < expected["bytes"] else "longer"
        raise CheckpointError(
            f"{path} changed after the checkpoint was saved: it is {how} than saved "
            f"({len(data)} bytes, {expected['bytes']} recorded), "
            f"{'truncated' if how == 'shorter' else 'appended to'} or edited. Save the model again."
        )
    if hashlib.sha256(data).hexdigest() != expected["sha256"]:
        raise CheckpointError(
            f"{path} changed after the checkpoint was saved (SHA-256 differs); the weights and "
            "spec would no longer match. Save the model again."
        )
    return data


def _is_plain_name(name: str) -> bool:
    """A file name with no folder part: not absolute, no separator, not ``.`` or ``..``."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\0")


def _check_tensors(root: Path, model: nn.Module, tensors: Mapping[str, Tensor]) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors) - _optional_keys(model))
    unexpected = sorted(set(tensors) - set(expected))
    reshaped = [
        f"{key}: checkpoint {list(tensors[key].shape)}, model {list(expected[key].shape)}"
        for key in sorted(set(expected) & set(tensors))
        if tuple(tensors[key].shape) != tuple(expected[key].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected {_few(unexpected)}")
    if reshaped:
        problems.append(f"shape mismatch {_few(reshaped)}")
    if problems:
        raise CheckpointError(
            f"{root}: the weights do not fit the model its spec builds ("
            + "; ".join(problems)
            + ")."
        )


def _optional_keys(model: nn.Module) -> set[str]:
    """State keys that older checkpoints lack and that load without: what each submodule
    lists in ``optional_state_keys()`` (an estimator's training quantiles and standard
    deviations, recorded since the ``standardized`` correction; its
    ``_load_from_state_dict`` leaves them NaN)."""
    keys: set[str] = set()
    for prefix, module in model.named_modules():
        optional = getattr(module, "optional_state_keys", None)
        if callable(optional):
            keys.update(f"{prefix}.{key}" if prefix else key for key in optional())
    return keys


def _few(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


__all__ = ["DEPLOYMENT_FILE", "load", "read_extra", "save"]
