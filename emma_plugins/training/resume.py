"""The trainer's whole state after an epoch, so a killed training continues where it stopped.

A `TrainerState` holds what the next epoch depends on: the weights, Adam's moments, both
random generators (the batch order and torch's global one, which dropout draws from), the
best state so far with its early-stopping counter, the coldness annealing and the history.
Restoring it and running the remaining epochs gives the same model as never stopping.

States are stored with `torch.save` and read with ``weights_only=True`` (tensors, numbers,
strings, lists and dicts only: no pickled code), written atomically.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from emma_plugins.atomic import write_atomic
from emma_plugins.core.errors import CheckpointError

#: Bumped when the stored layout changes; an older state is refused, not misread.
STATE_VERSION = 1


@dataclass
class TrainerState:
    """Everything `emma_plugins.training.loop.fit` needs to run epoch ``epoch + 1`` next."""

    epoch: int
    model: dict[str, Tensor]
    optimizer: dict[str, Any]
    generator: Tensor
    global_rng: Tensor
    best: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    annealing: dict[str, Any] | None = None
    version: int = STATE_VERSION


def save_state(path: str | os.PathLike[str], state: TrainerState) -> Path:
    """Write ``state`` to ``path`` atomically: a reader sees the previous epoch or this one."""
    return write_atomic(path, lambda handle: torch.save(asdict(state), handle))


def load_state(path: str | os.PathLike[str]) -> TrainerState:
    """The state `save_state` wrote; a damaged or foreign file is a `CheckpointError`."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise CheckpointError(f"{path}: not a readable training state ({exc}).") from exc
    if not isinstance(payload, dict) or payload.get("version") != STATE_VERSION:
        raise CheckpointError(
            f"{path}: training state of another format (version "
            f"{payload.get('version') if isinstance(payload, dict) else None!r}; this version "
            f"reads {STATE_VERSION}). Start the training again without --resume."
        )
    try:
        return TrainerState(**payload)
    except TypeError as exc:
        raise CheckpointError(f"{path}: incomplete training state ({exc}).") from exc


__all__ = ["STATE_VERSION", "TrainerState", "load_state", "save_state"]
