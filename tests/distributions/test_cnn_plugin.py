"""The emma-cnn distribution, installed for real: a deep structured energy for images."""

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
from sklearn.datasets import load_digits
from torch import Tensor, nn

from emma_plugins import SpecError
from emma_plugins.testing import check_registered_estimator

emma_cnn = pytest.importorskip("emma_cnn")  # CI installs plugins/ before the tests

pytestmark = pytest.mark.usefixtures("clean_plugins")

SMALL = {"channels": [4, 8], "features": 16, "experts": 16}


def images(n: int, shape: tuple[int, ...] = (1, 6, 6), seed: int = 0) -> Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


def digits() -> Tensor:
    """scikit-learn's 1,797 8x8 digits (shipped with it, nothing downloaded), scaled to [0, 1]."""
    return torch.tensor(load_digits().images, dtype=torch.float32).unsqueeze(1) / 16.0


def test_distribution_metadata_declares_entry_point_and_dependencies() -> None:
    assert_distribution("emma-cnn", "cnn", "emma_cnn")


def test_registered_with_its_params_model_and_provider(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_registered(capsys, "cnn", "emma-cnn", emma_cnn.ConvEnergy, emma_cnn.ConvEnergyParams)


def test_params_are_validated_by_name() -> None:
    with pytest.raises(ValidationError, match="chanels"):
        build_kind("cnn", (1, 8, 8), chanels=[4])
    with pytest.raises(ValidationError, match="sigma"):
        build_kind("cnn", (1, 8, 8), sigma=-0.1)


def test_phi_is_smooth_and_per_sample() -> None:
    # ReLU or max pooling would make grad Psi piecewise constant; batch norm would mix samples
    modules = list(build_kind("cnn", (3, 8, 8), **SMALL).modules())
    kinds = {type(m) for m in modules}
    assert nn.Softplus in kinds and nn.AvgPool2d in kinds
    assert not kinds & {nn.ReLU, nn.MaxPool2d, nn.BatchNorm2d}


def test_odd_and_tiny_image_sizes_build() -> None:
    for shape in [(1, 7, 5), (2, 1, 2), (1, 1, 1)]:
        estimator = build_kind("cnn", shape, **SMALL)
        assert estimator.potential(images(3, shape)).shape == (3,)


def test_wrong_shape_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"shaped \(C, H, W\), got shape \[8, 8\]"):
        build_kind("cnn", (8, 8))
    estimator = build_kind("cnn", (1, 8, 8), **SMALL)
    with pytest.raises(ValueError, match=r"pass x shaped \(N, 1, 8, 8\)"):
        estimator.potential(torch.zeros(2, 8, 8))


def test_passes_the_conformance_kit_through_its_entry_point() -> None:
    check_registered_estimator("cnn", images(32), {**SMALL, "epochs": 1})


def test_scores_include_potential_and_grad_norm_under_no_grad() -> None:
    estimator = build_kind("cnn", (1, 6, 6), **SMALL)
    x = images(5)
    with torch.no_grad():
        scores = estimator.scores(x)
    assert set(scores) >= {"potential", "grad_norm"}
    assert scores["grad_norm"].shape == (5,) and bool((scores["grad_norm"] > 0).all())


def test_reconstruction_jacobian_is_symmetric() -> None:
    estimator = build_kind("cnn", (1, 6, 6), **SMALL, epochs=2, sigma=0.2)
    estimator.fit(images(64), progress=False)
    estimator.double()
    x = images(3, seed=1).double()
    assert jacobian_asymmetry(lambda s: estimator.reconstruction_field(s, True), x) < 1e-10


def test_clean_digits_have_lower_energy_than_noisy_ones() -> None:
    x = digits()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, held_out = x[order[:1400]], x[order[1400:]]
    estimator = build_kind(
        "cnn", (1, 8, 8), channels=[8, 16], features=32, experts=32, epochs=5, lr=3e-3
    )
    estimator.fit(train, progress=False)
    assert estimator.history_[-1] < estimator.history_[0]
    # noise of one standard deviation of the data (about 0.38): seeds 0-2 give 100 %
    assert fraction_below_noisy(estimator, held_out, float(train.std())) >= 0.9
    # noise at the training sigma (0.1) is subtler: 98-99 % trained, 92 % for the initial
    # Gaussian of the data moments
    assert fraction_below_noisy(estimator, held_out, 0.1) >= 0.95


def test_spec_mode_validates_builds_fits_and_runs() -> None:
    assert_spec_builds_fits_and_runs("cnn", images(24, (1, 8, 8)), {**SMALL, "epochs": 1})


def test_spec_with_a_flat_mode_is_refused_where_it_is_declared() -> None:
    with pytest.raises(SpecError, match=r"modes\[0\]\.estimator: the cnn estimator needs image"):
        assert_spec_builds_fits_and_runs("cnn", torch.rand(4, 8), {})
