"""The emma-lstm distribution, installed for real: a deep structured energy for sequences."""

from __future__ import annotations

import pytest
import torch
from _integrability import jacobian_asymmetry
from _structured_plugins import (
    assert_distribution,
    assert_registered,
    assert_spec_builds_fits_and_runs,
    build_kind,
    fraction_below_noisy,
)
from pydantic import ValidationError
from torch import Tensor

from emma_plugins import SpecError
from emma_plugins.testing import check_registered_estimator

emma_lstm = pytest.importorskip("emma_lstm")  # CI installs plugins/ before the tests

pytestmark = pytest.mark.usefixtures("clean_plugins")

SMALL = {"hidden": 8, "experts": 8}


def sequences(n: int, shape: tuple[int, int] = (6, 3), seed: int = 0) -> Tensor:
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


def chirps(n: int, steps: int = 16, bins: int = 12, seed: int = 0) -> Tensor:
    """Spectrogram-like ``(T, F)`` sequences of three classes: a rising chirp, a falling
    chirp and a steady tone, each a Gaussian ridge over frequency bins with a jittered start
    and a little background noise."""
    generator = torch.Generator().manual_seed(seed)
    label = torch.randint(0, 3, (n,), generator=generator)
    start = torch.tensor([2.0, 8.0, 5.0])[label] + 0.5 * torch.randn(n, generator=generator)
    slope = torch.tensor([6.0, -6.0, 0.0])[label]
    track = start[:, None] + slope[:, None] * torch.linspace(0, 1, steps)  # (n, T)
    ridge = torch.exp(-0.5 * (torch.arange(bins) - track[..., None]).square())
    return ridge + 0.02 * torch.randn(ridge.shape, generator=generator)


def test_distribution_metadata_declares_entry_point_and_dependencies() -> None:
    assert_distribution("emma-lstm", "lstm", "emma_lstm")


def test_registered_with_its_params_model_and_provider(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_registered(capsys, "lstm", "emma-lstm", emma_lstm.LSTMEnergy, emma_lstm.LSTMEnergyParams)


def test_params_are_validated_by_name() -> None:
    with pytest.raises(ValidationError, match="hiden"):
        build_kind("lstm", (6, 3), hiden=4)
    with pytest.raises(ValidationError, match="layers"):
        build_kind("lstm", (6, 3), layers=0)


def test_recurrent_phi_keeps_cudnn_out_of_recorded_graphs() -> None:
    # cuDNN's LSTM has no double backward: the estimator must say so to the core
    assert emma_lstm.LSTMEnergy.cudnn_double_backward is False


def test_wrong_shape_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"shaped \(T, F\) .*got shape \[1, 6, 3\]"):
        build_kind("lstm", (1, 6, 3))
    with pytest.raises(ValueError, match=r"pass x shaped \(N, 6, 3\)"):
        build_kind("lstm", (6, 3), **SMALL).potential(torch.zeros(2, 3, 6))


def test_passes_the_conformance_kit_through_its_entry_point() -> None:
    check_registered_estimator("lstm", sequences(32), {**SMALL, "epochs": 1, "layers": 2})


def test_scores_include_potential_and_grad_norm_under_no_grad() -> None:
    estimator = build_kind("lstm", (6, 3), **SMALL)
    with torch.no_grad():
        scores = estimator.scores(sequences(5))
    assert set(scores) >= {"potential", "grad_norm"}
    assert scores["grad_norm"].shape == (5,) and bool((scores["grad_norm"] > 0).all())


def test_reconstruction_jacobian_is_symmetric() -> None:
    estimator = build_kind("lstm", (6, 3), **SMALL, epochs=2, sigma=0.2)
    estimator.fit(sequences(64), progress=False)
    estimator.double()
    x = sequences(3, seed=1).double()
    assert jacobian_asymmetry(lambda s: estimator.reconstruction_field(s, True), x) < 1e-10


def test_clean_chirps_have_lower_energy_than_noisy_ones() -> None:
    train, held_out = chirps(800, seed=0), chirps(200, seed=1)
    estimator = build_kind("lstm", (16, 12), hidden=16, experts=16, epochs=4, lr=3e-3)
    estimator.fit(train, progress=False)
    assert estimator.history_[-1] < estimator.history_[0]
    # noise of one standard deviation of the data (about 0.32): seeds 0-2 give 100 %
    assert fraction_below_noisy(estimator, held_out, float(train.std())) >= 0.9


def test_spec_mode_validates_builds_fits_and_runs() -> None:
    assert_spec_builds_fits_and_runs("lstm", sequences(24, (10, 4)), {**SMALL, "epochs": 1})


def test_spec_with_an_image_mode_is_refused_where_it_is_declared() -> None:
    with pytest.raises(SpecError, match=r"modes\[0\]\.estimator: the lstm estimator needs"):
        assert_spec_builds_fits_and_runs("lstm", torch.rand(4, 1, 8, 8), {})
