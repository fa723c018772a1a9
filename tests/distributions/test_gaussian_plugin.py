"""The emma-gaussian distribution, installed for real: metadata, registration and the maths."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from scipy.stats import multivariate_normal
from torch import Tensor

from emma_plugins import EnergyEstimator, get_registry
from emma_plugins.testing import check_estimator

emma_gaussian = pytest.importorskip("emma_gaussian")  # CI installs plugins/ before the tests

pytestmark = pytest.mark.usefixtures("clean_plugins")


def correlated(n: int = 400, dim: int = 3, seed: int = 0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(dim, dim, generator=generator) + 2 * torch.eye(dim)
    return torch.randn(n, dim, generator=generator) @ mixing.T + torch.arange(dim) - 1.0


def build(shape: tuple[int, ...] = (3,), **params: float) -> EnergyEstimator:
    estimator: EnergyEstimator = (
        get_registry("estimator").get("gaussian").build(params, shape=shape)
    )
    return estimator


def test_distribution_metadata_declares_entry_point_and_dependency() -> None:
    dist = importlib.metadata.distribution("emma-gaussian")
    [entry_point] = dist.entry_points.select(group="emma_plugins")
    assert (entry_point.name, entry_point.value) == ("gaussian", "emma_gaussian")
    assert dist.requires is not None and "emma-plugins" in dist.requires


def test_registered_with_its_params_model_and_provider() -> None:
    entry = get_registry("estimator").get("gaussian")
    assert entry.provider == "emma-gaussian"
    assert entry.factory is emma_gaussian.GaussianEstimator
    assert entry.params is emma_gaussian.GaussianParams
    assert isinstance(build(), emma_gaussian.GaussianEstimator)


def test_params_are_validated_by_name() -> None:
    with pytest.raises(ValidationError, match="reg"):
        build(reg=-1.0)
    with pytest.raises(ValidationError, match="rge"):
        get_registry("estimator").get("gaussian").build({"rge": 0.1}, shape=(3,))


@pytest.mark.parametrize("reg", [0.0, 0.5])
def test_potential_is_the_negative_log_likelihood(reg: float) -> None:
    x = correlated()
    estimator = build(reg=reg).fit(x, progress=False)
    data = x.double().numpy()
    covariance = np.cov(data.T, bias=True) + reg * np.eye(3)  # maximum likelihood + ridge
    reference = multivariate_normal(data.mean(axis=0), covariance)
    query = correlated(n=50, seed=1)
    expected = -reference.logpdf(query.double().numpy())
    np.testing.assert_allclose(estimator.potential(query).double().numpy(), expected, rtol=1e-5)


def test_fitted_buffers_are_the_maximum_likelihood_estimates() -> None:
    x = correlated()
    estimator = build(reg=0.0).fit(x, progress=False)
    scale_tril = estimator.get_buffer("scale_tril")
    torch.testing.assert_close(estimator.get_buffer("mean"), x.mean(dim=0))
    centered = x.double() - x.double().mean(dim=0)
    covariance = (centered.T @ centered / len(x)).float()
    torch.testing.assert_close(scale_tril @ scale_tril.T, covariance, rtol=1e-4, atol=1e-5)
    assert torch.equal(scale_tril, scale_tril.tril())


def test_unfitted_estimator_is_the_standard_normal() -> None:
    x = correlated(n=5)
    expected = 0.5 * x.square().sum(dim=1) + 1.5 * np.log(2 * np.pi)
    torch.testing.assert_close(build().potential(x), expected)
    assert not build().is_fitted


def test_closed_form_grad_norm_matches_autograd() -> None:
    x = correlated()
    estimator = build().fit(x, progress=False)
    torch.testing.assert_close(
        estimator.grad_norm(x), EnergyEstimator.grad_norm(estimator, x), rtol=1e-4, atol=1e-5
    )


def test_passes_the_conformance_kit_on_shaped_samples() -> None:
    x = correlated(n=64, dim=6).reshape(64, 2, 3)
    check_estimator(build((2, 3), reg=1e-3), x, make=lambda: build((2, 3), reg=1e-3))


def test_degenerate_covariance_asks_for_more_regularisation() -> None:
    too_few = correlated(n=2, dim=4)
    with pytest.raises(ValueError, match=r"not positive definite \(reg=0.0\); increase the 'reg'"):
        build((4,), reg=0.0).fit(too_few, progress=False)
    assert build((4,), reg=1e-2).fit(too_few, progress=False).is_fitted


def test_wrong_sample_shape_names_the_expected_one() -> None:
    with pytest.raises(ValueError, match=r"expects samples of shape \(3,\), got a batch of shape"):
        build().potential(torch.zeros(4, 5))
