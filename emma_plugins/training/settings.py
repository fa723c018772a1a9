"""The trainer's settings and the corrupted training mix, built from a validated spec.

Everything that trains from a spec (the lab's experiments, grid and benchmark) takes its
settings from here, so each is built in one place from the ``training`` section:

* `fit_config`: the trainer's settings for one model (epochs, batch, Adam, regularizers);
* `coldness_annealing`: the annealing of ``training.anneal``, if any;
* `mode_corruption` and `corruption_scheme`: how a mode fails, in the training mix of
  stage 2 and in the evaluation's ``<mode>_noisy`` conditions.
"""

from __future__ import annotations

from collections.abc import Sequence

from emma_plugins.corruptions import Corruption, CorruptionScheme, GaussianNoise, make_corruption
from emma_plugins.spec.sections import CorruptionTrainingSpec, TrainingSpec
from emma_plugins.training.annealing import ColdnessAnnealing
from emma_plugins.training.loop import FitConfig


def fit_config(
    training: TrainingSpec, *, seed: int, epochs: int, progress: bool = False, desc: str = "train"
) -> FitConfig:
    """The trainer's settings for one model: ``epochs`` (``training.base_epochs`` or
    ``training.epochs``, by stage), the seed, and the section's batch size, learning rate,
    patience and regularizer weights. Annealing is separate (`coldness_annealing`)."""
    return FitConfig(
        epochs=epochs,
        batch_size=training.batch_size,
        lr=training.lr,
        seed=seed,
        patience=training.patience,
        lambda_c=training.lambda_c,
        lambda_e=training.lambda_e,
        progress=progress,
        desc=desc,
        precision=training.precision,
    )


def coldness_annealing(training: TrainingSpec) -> ColdnessAnnealing | None:
    """A fresh annealing schedule of ``training.anneal``; ``None`` when it is off."""
    anneal = training.anneal
    if anneal is None:
        return None
    return ColdnessAnnealing(start=anneal.start, factor=anneal.factor)


def mode_corruption(corruption: CorruptionTrainingSpec, mode: str) -> Corruption:
    """How ``mode`` fails: its ``per_mode`` corruption, else Gaussian noise ``sigma``."""
    chosen = corruption.per_mode.get(mode)
    if chosen is None:
        return GaussianNoise(corruption.sigma)
    return make_corruption({"kind": chosen.kind, **chosen.params()})


def corruption_scheme(
    corruption: CorruptionTrainingSpec, mode_names: Sequence[str]
) -> CorruptionScheme:
    """The corrupted mix: ``clean_fraction`` clean, the rest split evenly over one failing
    mode each (thesis section 6.3.1), each mode failing as `mode_corruption` says."""
    return CorruptionScheme.thesis(
        list(mode_names),
        sigma=corruption.sigma,
        clean=corruption.clean_fraction,
        per_mode={mode: mode_corruption(corruption, mode) for mode in corruption.per_mode},
    )


def describe_corruption(corruption: CorruptionTrainingSpec, mode_names: Sequence[str]) -> str:
    """``mode: kind(params)`` for each mode, for reports."""
    return ", ".join(f"{mode}: {mode_corruption(corruption, mode)!r}" for mode in mode_names)
