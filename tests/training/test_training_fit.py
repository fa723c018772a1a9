"""`training.loop.fit`: a non-finite loss stops training with a `TrainingError` that says
where, and a run that never improves on its initial state is flagged."""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from _spec_samples import calibrated, spec_dict, table
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.core.errors import EmmaError, TrainingError, TrainingWarning
from emma_plugins.training import ClassificationLoss, FitConfig, TensorSplit, fit, train_base


def _split(model: EmmaModel, n: int, seed: int) -> TensorSplit:
    x = table(n=n, seed=seed)
    y = (x[:, 0] + x[:, 4] > 0).long()
    return TensorSplit.clean(model.split(x), y)


def _setup(seed: int = 0) -> tuple[EmmaModel, TensorSplit, TensorSplit, ClassificationLoss]:
    torch.manual_seed(seed)
    model = calibrated(build(spec_dict()), table(n=64))
    train, val = _split(model, 64, 1), _split(model, 32, 2)
    return model, train, val, ClassificationLoss(train.y, 2)


@settings(max_examples=8, deadline=None)
@given(lr=st.sampled_from([1e25, 1e30, 1e35]), batch_size=st.sampled_from([8, 16, 64]))
def test_a_diverging_model_stops_with_an_error_naming_stage_epoch_and_batch(
    lr: float, batch_size: int
) -> None:
    model, train, val, loss = _setup()
    config = FitConfig(epochs=3, lr=lr, batch_size=batch_size, progress=False, desc="with")
    with pytest.raises(TrainingError) as caught:
        fit(model, train, val, loss, config)
    error = caught.value
    assert isinstance(error, EmmaError)
    assert error.desc == "with" and error.epoch is not None and error.epoch >= 1
    message = str(error)
    assert message.startswith("Training 'with' stopped: the ")
    if error.batch is None:  # the last step of an epoch diverged: validation caught it
        assert f"validation loss is nan after epoch {error.epoch}" in message
    else:
        assert f"at epoch {error.epoch}, batch {error.batch} of {64 // batch_size}" in message
    assert f"(lr={lr})" in message


@pytest.mark.parametrize("lr", [float("inf"), float("nan"), -1.0])
def test_an_unusable_learning_rate_is_refused_naming_the_stage(lr: float) -> None:
    model, train, val, loss = _setup()
    config = FitConfig(epochs=2, lr=lr, progress=False, desc="base")
    with pytest.raises(TrainingError, match=rf"^Training 'base' cannot start: lr={lr}; "):
        fit(model, train, val, loss, config)


def test_non_finite_validation_data_is_refused_before_training() -> None:
    model, train, val, loss = _setup()
    val.modes[0][0, 0] = float("nan")  # attention treats the mode as missing, not the network
    model.attention = None
    with pytest.raises(TrainingError, match=r"validation loss is nan before training \(epoch 0\)"):
        fit(model, train, val, loss, FitConfig(epochs=1, progress=False))


def test_no_improvement_keeps_the_initial_state_and_says_so() -> None:
    model, train, val, loss = _setup()
    with pytest.warns(TrainingWarning, match=r"Training 'base': no epoch of 2 improved"):
        result = fit(
            model, train, val, loss, FitConfig(epochs=2, lr=0.0, progress=False, desc="base")
        )
    assert result.best_epoch == 0 and result.kept_initial


def test_an_improving_run_is_not_flagged_and_numbers_are_unchanged_by_the_checks() -> None:
    results = []
    for _ in range(2):
        model, train, val, loss = _setup()
        with warnings.catch_warnings():
            warnings.simplefilter("error", TrainingWarning)
            results.append(
                fit(model, train, val, loss, FitConfig(epochs=3, lr=1e-2, progress=False))
            )
    assert results[0].best_epoch > 0 and not results[0].kept_initial
    assert results[0].history == results[1].history


def test_the_stages_name_themselves_after_the_callers_desc() -> None:
    model, train, val, loss = _setup()
    for desc, named in [("train", "base"), ("noise_augmentation", "noise_augmentation (base)")]:
        config = FitConfig(epochs=1, lr=float("inf"), progress=False, desc=desc)
        with pytest.raises(TrainingError, match=rf"^Training '{re.escape(named)}' cannot start"):
            train_base(model, train, val, loss, config)
