"""The tied DAE (4.1-4.2): its field is -grad of its closed-form potential, and that is stable.

The untied autoencoder of `_untied_dae` is the negative control: the same checks
must fail on it, which shows they can detect a field that is not a gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _untied_dae import UntiedDAE, fit_on_circle
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from emma_plugins.core.errors import EmmaError, EstimatorError, TrainingError
from emma_plugins.estimators import TiedDAE


def random_points(n: int, limit: float = 5.0, seed: int = 1) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 2, generator=generator) * 2 - 1) * limit


def field_gradient_gap(model: TiedDAE, x: Tensor) -> float:
    """Largest ``||(r(x) - x) + grad Psi(x)||`` over ``x``, relative to the mean field norm."""
    leaf = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.potential(leaf).sum(), leaf)
    with torch.no_grad():
        field = model.reconstruction_field(x)
    return float((field + grad).norm(dim=1).max() / field.norm(dim=1).mean())


def jacobian_asymmetry(model: TiedDAE, x: Tensor) -> float:
    """Largest ``||J - J^T||`` of the field's Jacobian (criterion C.1), relative to ``||J||``."""
    jacobians = torch.func.vmap(
        torch.func.jacrev(lambda point: model.reconstruction_field(point[None])[0])
    )(x).detach()
    asymmetry = (jacobians - jacobians.transpose(1, 2)).norm(dim=(1, 2))
    return float(asymmetry.max() / jacobians.norm(dim=(1, 2)).mean())


@pytest.fixture(scope="module")
def trained() -> dict[str, TiedDAE]:
    return {
        "tied": fit_on_circle(),
        "untied": fit_on_circle(UntiedDAE),
    }


def randomised_dae(seed: int, in_features: int, hidden: int) -> TiedDAE:
    """A DAE with every parameter (biases too) drawn at random, as after some training."""
    model = TiedDAE(in_features, hidden=hidden, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return model


@settings(max_examples=30, deadline=None, database=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    in_features=st.integers(1, 6),
    hidden=st.integers(1, 16),
)
def test_field_is_minus_gradient_of_potential_for_any_weights(
    seed: int, in_features: int, hidden: int
) -> None:
    model = randomised_dae(seed, in_features, hidden)
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(64, in_features, generator=generator) * 3
    assert field_gradient_gap(model, x) < 1e-5


def test_field_is_minus_gradient_after_training(trained: dict[str, TiedDAE]) -> None:
    model = trained["tied"]
    assert model.history_[-1] < model.history_[0]  # it did train
    x = random_points(1_000)
    assert field_gradient_gap(model, x) < 1e-5
    leaf = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.potential(leaf).sum(), leaf)
    torch.testing.assert_close(model.reconstruction_field(x).detach(), -grad, atol=1e-5, rtol=1e-5)


def test_field_jacobian_is_symmetric_after_training(trained: dict[str, TiedDAE]) -> None:
    assert jacobian_asymmetry(trained["tied"], random_points(200)) < 1e-5


@pytest.mark.parametrize("stage", ["initial", "trained"])
def test_untied_control_fails_the_same_checks(stage: str, trained: dict[str, TiedDAE]) -> None:
    model = UntiedDAE(2, hidden=8) if stage == "initial" else trained["untied"]
    x = random_points(1_000)
    # The tied DAE passes with gaps below 1e-5; the control misses by a sizeable fraction
    # of the field itself, and its Jacobian is visibly asymmetric (no potential exists).
    assert field_gradient_gap(model, x) > 0.2
    assert jacobian_asymmetry(model, x[:200]) > 1e-2


def reference_potential(model: TiedDAE, x: np.ndarray) -> np.ndarray:
    """Equation (4.7) in float64 numpy, with a stable ``log(1 + exp(z))``."""
    weight = model.weight.detach().double().numpy()
    hidden_bias = model.hidden_bias.detach().double().numpy()
    output_bias = model.output_bias.detach().double().numpy()
    softplus = np.logaddexp(0.0, x @ weight.T + hidden_bias).sum(axis=1)
    return 0.5 * np.square(x - output_bias).sum(axis=1) - softplus


def test_potential_matches_float64_reference(trained: dict[str, TiedDAE]) -> None:
    model = trained["tied"]
    x = random_points(2_000, limit=10.0).numpy()
    got = model.potential(torch.from_numpy(x)).detach().double().numpy()
    expected = reference_potential(model, x.astype(np.float64))
    scale = 0.5 * np.square(x).sum(axis=1) + 1.0  # the size of the terms that cancel
    assert np.all(np.abs(got - expected) <= 1e-5 * scale)


@pytest.mark.parametrize("magnitude", [1e4, -1e4])
def test_potential_and_field_are_finite_for_huge_inputs(
    magnitude: float, trained: dict[str, TiedDAE]
) -> None:
    model = randomised_dae(3, 2, 8)
    for candidate in (model, trained["tied"]):
        directions = torch.nn.functional.normalize(random_points(256, seed=7), dim=1)
        corners = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
        x = torch.cat([directions, corners]) * magnitude
        potential = candidate.potential(x).detach()
        assert torch.isfinite(potential).all()
        assert torch.isfinite(candidate.reconstruction_field(x)).all()
        assert torch.isfinite(candidate.grad_norm(x)).all()
        expected = reference_potential(candidate, x.double().numpy())
        np.testing.assert_allclose(potential.double().numpy(), expected, rtol=1e-5)
        # Far away the quadratic term rules: Psi grows like ||x||^2 / 2, i.e. very unlikely.
        half_square = 0.5 * x.square().sum(dim=1)
        assert torch.all((potential - half_square).abs() < 1e-2 * half_square)


def test_potential_does_not_depend_on_the_batch(trained: dict[str, TiedDAE]) -> None:
    model = trained["tied"]
    x = random_points(100)
    alone = torch.cat([model.potential(row[None]) for row in x])
    torch.testing.assert_close(model.potential(x), alone)


@settings(max_examples=12, deadline=None)
@given(
    sigma=st.sampled_from([0.01, 1e20, float("inf")]),
    lr=st.sampled_from([1e-3, 1e10, 1e30]),
)
def test_a_fit_never_ends_silently_with_non_finite_values(sigma: float, lr: float) -> None:
    """Whatever diverges, the fit either records finite minima or says that it produced
    non-finite values and names the estimator with its parameters (not "is not fitted")."""
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
    estimator = TiedDAE(4, hidden=3, sigma=sigma, epochs=2, batch_size=16, lr=lr)
    try:
        estimator.fit(x, progress=False)
    except EmmaError as error:
        assert isinstance(error, TrainingError | EstimatorError)
        assert f"TiedDAE(shape=(4,), hidden=3, sigma={sigma}) produced non-finite values" in str(
            error
        )
        assert not estimator.is_fitted
        return
    assert estimator.is_fitted
    assert all(torch.isfinite(estimator.score_min(name)) for name in estimator.score_names)


def test_sigma_inf_stops_the_fit_at_its_first_batch() -> None:
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(TrainingError) as caught:
        TiedDAE(4, sigma=float("inf"), epochs=2, batch_size=16).fit(x, progress=False)
    assert (caught.value.epoch, caught.value.batch) == (1, 1)
    assert str(caught.value) == (
        "TiedDAE(shape=(4,), hidden=12, sigma=inf) produced non-finite values while fitting: "
        "its training loss is nan at epoch 1, batch 1 of 3 (lr=0.001). The fit diverged: "
        "lower the learning rate or the noise, or check the training data for NaN or "
        "infinite values."
    )


def test_calibration_on_non_finite_values_is_refused_and_remembered() -> None:
    x = torch.randn(10, 4, generator=torch.Generator().manual_seed(0))
    estimator = TiedDAE(4, hidden=3).calibrate(x)
    assert estimator.is_fitted
    x[3, 1] = float("nan")
    with pytest.raises(EstimatorError, match=r"^TiedDAE\(shape=\(4,\), hidden=3, sigma=0.01\) "):
        estimator.calibrate(x)
    assert not estimator.is_fitted  # the old minima no longer describe these weights
    with pytest.raises(EstimatorError, match="produced non-finite values on its calibration"):
        estimator.score_min("potential")
