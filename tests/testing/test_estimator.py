"""The estimator kit passes every registered estimator and catches each broken contract."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import BaseModel
from torch import Tensor

from emma_plugins import EnergyEstimator, hookimpl
from emma_plugins.core.hookspecs import Register
from emma_plugins.core.plugins import get_registry, plugin_host
from emma_plugins.testing import (
    check_batch_independence,
    check_device_move,
    check_dtype_move,
    check_estimator,
    check_gradients_flow,
    check_potential,
    check_registered_estimator,
    check_state_dict_round_trip,
    check_tensors_registered,
    estimator_sample,
    registered_estimator_kinds,
)
from emma_plugins.testing.samples import fast_params


def samples(n: int = 32, dim: int = 3) -> Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(0))


class Quadratic(EnergyEstimator):
    """A correct estimator: ``1/2 ||x - c||^2`` with ``c`` the fitted mean, kept in a buffer."""

    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.register_buffer("center", torch.zeros(dim))

    def potential(self, x: Tensor) -> Tensor:
        return 0.5 * (x - self.center).square().sum(dim=1)

    def _fit(self, x: Tensor, progress: bool) -> None:
        self.center.copy_(x.mean(dim=0))


class BatchNormQuadratic(Quadratic):
    """The original code's bug: the quadratic term is the norm of the whole batch matrix."""

    def potential(self, x: Tensor) -> Tensor:
        batch_term = 0.5 * (x - self.center).square().sum()
        return batch_term + x.sum(dim=1)


class SlightlyCoupled(Quadratic):
    """Couples samples by an amount below every value tolerance; only gradients reveal it."""

    def potential(self, x: Tensor) -> Tensor:
        return super().potential(x) + 1e-9 * x.sum()


class ColumnPotential(Quadratic):
    def potential(self, x: Tensor) -> Tensor:
        return super().potential(x).unsqueeze(1)


class LogPotential(Quadratic):
    """``log`` of a sum that is negative for some samples: NaN."""

    def potential(self, x: Tensor) -> Tensor:
        return torch.log(x.sum(dim=1))


class DetachedPotential(Quadratic):
    def potential(self, x: Tensor) -> Tensor:
        return super().potential(x.detach())


class PlainAttributeCenter(EnergyEstimator):
    """The original code's ``Psi_min`` bug: fitted state in a plain attribute, not a buffer."""

    def __init__(self, dim: int = 3) -> None:
        super().__init__()
        self.center = torch.zeros(dim)

    def potential(self, x: Tensor) -> Tensor:
        return 0.5 * (x - self.center).square().sum(dim=1)

    def _fit(self, x: Tensor, progress: bool) -> None:
        self.center = x.mean(dim=0)


class FitReturnsNone(Quadratic):
    def fit(self, data: Any, progress: bool = True, **kwargs: Any) -> Any:
        super().fit(data, progress=progress, **kwargs)
        return None


class CpuTensorInside(Quadratic):
    def potential(self, x: Tensor) -> Tensor:
        return super().potential(x) + torch.ones(len(x))


class Float32Inside(Quadratic):
    def potential(self, x: Tensor) -> Tensor:
        return super().potential(x).float()


# -- success ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", registered_estimator_kinds())
def test_every_registered_estimator_conforms_with_its_declared_sample(kind: str) -> None:
    # no table here: each kind declares its sample shape and fast parameters
    check_registered_estimator(kind)


def test_explicit_samples_and_params_are_laid_over_the_declared_ones() -> None:
    x = samples(dim=6)
    check_registered_estimator("dae", x, {"hidden": 3})
    assert tuple(estimator_sample("dae").shape) == (32, 4)
    registration = get_registry("estimator").get("dae")
    assert fast_params(registration, {"hidden": 3}) == {"epochs": 2, "hidden": 3}
    assert fast_params(registration, {"epochs": 5}) == {"epochs": 5}


def test_registered_kinds_include_builtin_and_installed_plugin() -> None:
    kinds = registered_estimator_kinds()
    assert {"dae", "gaussian"} <= set(kinds)
    assert kinds == sorted(kinds)


def test_correct_estimator_passes_and_is_not_modified() -> None:
    estimator = Quadratic()
    check_estimator(estimator, samples(), make=Quadratic)
    assert not estimator.is_fitted  # the kit fits a copy


def test_kit_works_on_samples_with_several_dimensions() -> None:
    class Image(EnergyEstimator):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("center", torch.zeros(2, 3, 3))

        def potential(self, x: Tensor) -> Tensor:
            return 0.5 * (x - self.center).flatten(1).square().sum(dim=1)

        def _fit(self, x: Tensor, progress: bool) -> None:
            self.center.copy_(x.mean(dim=0))

    x = torch.randn(8, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    check_estimator(Image(), x, make=Image)


# -- each broken contract is reported ----------------------------------------------------------
def test_batch_wide_quadratic_term_is_reported() -> None:
    with pytest.raises(AssertionError, match=r"check_batch_independence failed .*alone differs"):
        check_estimator(BatchNormQuadratic(), samples(), make=BatchNormQuadratic)


def test_coupling_below_value_tolerance_is_caught_by_gradients() -> None:
    with pytest.raises(AssertionError, match="non-zero gradient with respect to other samples"):
        check_batch_independence(SlightlyCoupled(), samples())


def test_batch_independence_needs_three_samples() -> None:
    with pytest.raises(ValueError, match="at least 3 samples"):
        check_batch_independence(Quadratic(), samples(n=2))
    with pytest.raises(ValueError, match="at least 3 samples"):
        check_estimator(Quadratic(), samples(n=2))


def test_wrong_shape_is_reported() -> None:
    expected = r"must have shape \(N,\) = \(32,\), one value per sample, got \(32, 1\)"
    with pytest.raises(AssertionError, match=expected):
        check_estimator(ColumnPotential(), samples(), make=ColumnPotential)
    with pytest.raises(AssertionError, match=expected):
        check_potential(ColumnPotential(), samples())


def test_non_finite_potential_is_reported() -> None:
    # fit's own calibration already refuses the non-finite minimum, naming the estimator
    expected = r"check_fit failed .*EstimatorError: LogPotential\(\) produced non-finite values"
    with pytest.raises(AssertionError, match=expected):
        check_estimator(LogPotential(), samples())
    with pytest.raises(AssertionError, match=r"potential\(x\) must be finite, got nan"):
        check_potential(LogPotential(), samples())


def test_detached_potential_is_reported() -> None:
    # fit already needs the gradient (for the grad_norm minimum), so the first check fails
    with pytest.raises(AssertionError, match=r"check_fit failed .*RuntimeError: .*grad"):
        check_estimator(DetachedPotential(), samples())
    with pytest.raises(AssertionError, match=r"potential\(x\) is detached from x"):
        check_gradients_flow(DetachedPotential(), samples())


def test_fit_must_return_self() -> None:
    with pytest.raises(AssertionError, match=r"check_fit failed .*must return self"):
        check_estimator(FitReturnsNone(), samples())


def test_plain_attribute_state_is_reported_by_every_check_it_breaks() -> None:
    x = samples()
    with pytest.raises(AssertionError, match=r"check_tensors_registered failed .*center hold"):
        check_estimator(PlainAttributeCenter(), x, make=PlainAttributeCenter)
    fitted = PlainAttributeCenter().fit(x, progress=False)
    with pytest.raises(AssertionError, match="different potentials: some fitted state"):
        check_state_dict_round_trip(fitted, x, make=PlainAttributeCenter)
    with pytest.raises(AssertionError, match="not float64: center"):
        check_dtype_move(fitted, x)
    with pytest.raises(AssertionError, match="stayed behind: center"):
        check_device_move(fitted, x, "meta")


def test_modules_in_plain_lists_are_reported() -> None:
    estimator = Quadratic()
    estimator.members = [torch.nn.Linear(3, 1)]
    with pytest.raises(AssertionError, match="members hold"):
        check_tensors_registered(estimator, samples())


def test_plain_references_to_registered_parameters_are_accepted() -> None:
    # nn.LSTM keeps its own parameters in a plain list too (_flat_weights)
    estimator = Quadratic()
    estimator.linear = torch.nn.Linear(3, 1)
    estimator.aliases = [estimator.linear.weight, estimator.linear]
    check_tensors_registered(estimator, samples())
    estimator.aliases.append(torch.zeros(1))
    with pytest.raises(AssertionError, match="aliases hold"):
        check_tensors_registered(estimator, samples())


def test_tensor_created_on_the_cpu_inside_potential_is_reported() -> None:
    with pytest.raises(AssertionError, match=r"check_device_move\('meta'\) failed .*x.device"):
        check_estimator(CpuTensorInside(), samples(), make=CpuTensorInside)


def test_fixed_dtype_inside_potential_is_reported() -> None:
    with pytest.raises(AssertionError, match=r"returns torch.float32: a tensor made inside"):
        check_dtype_move(Float32Inside(), samples())


def test_gradient_check_reports_an_input_independent_potential() -> None:
    class Constant(Quadratic):
        def potential(self, x: Tensor) -> Tensor:
            return self.center.sum().expand(len(x)) + 0 * x.sum(dim=1)

    with pytest.raises(AssertionError, match="zero everywhere"):
        check_gradients_flow(Constant(), samples())


def test_non_estimator_is_rejected() -> None:
    with pytest.raises(AssertionError, match="is not an EnergyEstimator"):
        check_estimator(torch.nn.Linear(3, 1), samples())  # type: ignore[arg-type]


@pytest.mark.usefixtures("clean_plugins")
def test_registered_params_model_must_forbid_extra_fields() -> None:
    class LaxParams(BaseModel):
        scale: float = 1.0

    class LaxPlugin:
        @hookimpl
        def register_estimators(self, register: Register) -> None:
            register("lax", lambda shape, scale: Quadratic(shape[0]), LaxParams)

    plugin_host().register(LaxPlugin(), "emma-lax", "lax")
    with pytest.raises(AssertionError, match="must set model_config = ConfigDict"):
        check_registered_estimator("lax", samples())
