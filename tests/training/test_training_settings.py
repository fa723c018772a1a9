"""The trainer's settings and the corrupted mix, built from the spec's training section."""

from __future__ import annotations

from emma_plugins.corruptions import GaussianNoise
from emma_plugins.spec import TrainingSpec
from emma_plugins.spec.sections import AnnealSpec, CorruptionTrainingSpec
from emma_plugins.training.annealing import ColdnessAnnealing
from emma_plugins.training.settings import (
    coldness_annealing,
    corruption_scheme,
    describe_corruption,
    fit_config,
    mode_corruption,
)


def test_fit_config_reads_the_training_section() -> None:
    training = TrainingSpec(batch_size=8, lr=0.01, patience=3, lambda_c=0.1, lambda_e=0.2)
    config = fit_config(training, seed=4, epochs=training.base_epochs, desc="base")
    assert (config.epochs, config.batch_size, config.lr, config.seed) == (30, 8, 0.01, 4)
    assert (config.patience, config.lambda_c, config.lambda_e) == (3, 0.1, 0.2)
    assert (config.progress, config.desc, config.annealing) == (False, "base", None)


def test_annealing_defaults_are_the_specs() -> None:
    assert coldness_annealing(TrainingSpec()) is None
    annealing = coldness_annealing(TrainingSpec(anneal=AnnealSpec()))
    assert annealing is not None
    assert (annealing.start, annealing.factor) == (
        ColdnessAnnealing().start,
        ColdnessAnnealing().factor,
    )
    assert (annealing.start, annealing.factor) == (AnnealSpec().start, AnnealSpec().factor)


def test_corruptions_fall_back_to_gaussian_noise() -> None:
    corruption = CorruptionTrainingSpec(sigma=0.7, clean_fraction=0.4)
    assert repr(mode_corruption(corruption, "ip")) == repr(GaussianNoise(0.7))
    scheme = corruption_scheme(corruption, ["ip", "dm_snr"])
    assert [group.fraction for group in scheme.groups] == [0.4, 0.3, 0.3]
    assert describe_corruption(corruption, ["ip"]) == f"ip: {GaussianNoise(0.7)!r}"
