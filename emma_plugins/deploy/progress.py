"""``DIR/progress/``: a model directory's training progress, so ``emma fit --resume`` goes on.

Per stage (``estimators``, ``base``, ``emma``):

* ``<stage>.state.pt``: the trainer's state after the stage's last complete epoch
  (`emma_plugins.training.resume`), replaced atomically after every epoch;
* ``<stage>.done.safetensors`` and ``<stage>.history.json``: the weights and history of a
  finished stage; the weights file is written last and marks the stage done.

``fit.json`` holds the fingerprint of the spec being trained, so a resume with another spec
is refused rather than mixed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from emma_plugins.atomic import write_atomic
from emma_plugins.core.errors import CheckpointError
from emma_plugins.training.recipe import FinishedStage
from emma_plugins.training.resume import TrainerState, load_state, save_state

PROGRESS_DIR = "progress"
FIT_FILE = "fit.json"


class FileStageStore:
    """`emma_plugins.training.recipe.StageStore` on files."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = Path(directory)

    def begin(self, fingerprint: str, *, resume: bool) -> None:
        """Start a fresh record, or check that the one to resume trains the same spec."""
        record = self.root / FIT_FILE
        if resume and record.is_file():
            saved = json.loads(record.read_text()).get("fingerprint")
            if saved != fingerprint:
                raise CheckpointError(
                    f"{self.root}: the progress saved here belongs to another spec; resume "
                    "with the spec it was started with, or start over with --overwrite."
                )
            return
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.iterdir():
            if stale.is_file():
                stale.unlink()
        text = json.dumps({"fingerprint": fingerprint}) + "\n"
        write_atomic(record, lambda handle: handle.write(text.encode()))

    # -- StageStore ------------------------------------------------------------------------
    def finished(self, stage: str) -> FinishedStage | None:
        weights = self.root / f"{stage}.done.safetensors"
        if not weights.is_file():
            return None
        from safetensors.torch import load_file

        history = json.loads((self.root / f"{stage}.history.json").read_text())
        return FinishedStage(load_file(str(weights)), history)

    def finish(self, stage: str, done: FinishedStage) -> None:
        from safetensors.torch import save

        history = json.dumps(done.history).encode()
        write_atomic(self.root / f"{stage}.history.json", lambda handle: handle.write(history))
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in done.state.items()}
        data = save(tensors)
        write_atomic(self.root / f"{stage}.done.safetensors", lambda handle: handle.write(data))
        (self.root / f"{stage}.state.pt").unlink(missing_ok=True)

    def resume_point(self, stage: str) -> TrainerState | None:
        path = self.root / f"{stage}.state.pt"
        return load_state(path) if path.is_file() else None

    def save_epoch(self, stage: str, state: TrainerState) -> None:
        save_state(self.root / f"{stage}.state.pt", state)


__all__ = ["FIT_FILE", "PROGRESS_DIR", "FileStageStore"]
