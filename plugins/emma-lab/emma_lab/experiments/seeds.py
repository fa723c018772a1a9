"""Every seed of ``emma run`` kept on disk, so a killed run resumes at the seed it stopped in.

After a seed has trained, each of its models is saved as a loadable checkpoint
(``checkpoints/seed<k>-<model>``) and then its outcome (score rows, diagnostics, thresholds
and the model names) as ``checkpoints/seed<k>.json``, written atomically and last: that
file marks the seed done. ``emma run --resume`` loads a done seed instead of training it
again and hands the loaded models to the analyses as if they had just trained, so a
resumed run writes the same results as an uninterrupted one. Each outcome records the
fingerprint of the spec that trained it; a seed of another spec is refused, not reused.
"""

from __future__ import annotations

import json
from pathlib import Path

from emma_lab.experiments.comparison import SeedOutcome
from emma_plugins.assembly.checkpoint import load, save
from emma_plugins.atomic import write_atomic
from emma_plugins.core.errors import CheckpointError
from emma_plugins.rundir import inside

CHECKPOINTS_DIR = "checkpoints"


class SeedStore:
    """A run's seeds under ``directory`` (``DIR/checkpoints``)."""

    def __init__(
        self, directory: str | Path, *, resume: bool = False, fingerprint: str = ""
    ) -> None:
        self.root, self.resume, self.fingerprint = Path(directory), resume, fingerprint

    def _outcome_file(self, seed: int) -> Path:
        return inside(self.root, f"seed{seed}.json")

    def load(self, seed: int) -> SeedOutcome | None:
        """The outcome of a seed done by an earlier run (with ``resume``), else None."""
        record = self._outcome_file(seed)
        if not (self.resume and record.is_file()):
            return None
        try:
            done = json.loads(record.read_text())
            if done.get("fingerprint", "") != self.fingerprint:
                raise CheckpointError(
                    f"{record}: seed {seed} was trained for another spec; resume only the run "
                    "of the same spec, or start over with --overwrite."
                )
            models = {
                name: load(inside(self.root, f"seed{seed}-{name}")) for name in done["models"]
            }
            return SeedOutcome(done["scores"], done["diagnostics"], models, done["thresholds"])
        except CheckpointError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(
                f"{record}: seed {seed} of the earlier run cannot be loaded ({exc}); run "
                "again without --resume (or with --overwrite) to train it anew."
            ) from exc

    def save(self, seed: int, outcome: SeedOutcome) -> None:
        """Every model of the seed, then its outcome (the marker that the seed is done)."""
        for name, model in outcome.models.items():
            save(model, inside(self.root, f"seed{seed}-{name}"))
        payload = {
            "seed": seed,
            "fingerprint": self.fingerprint,
            "models": list(outcome.models),
            "scores": outcome.scores,
            "diagnostics": outcome.diagnostics,
            "thresholds": outcome.thresholds,
        }
        text = json.dumps(payload, indent=1, default=float)
        write_atomic(self._outcome_file(seed), lambda handle: handle.write(text.encode()))


__all__ = ["CHECKPOINTS_DIR", "SeedStore"]
