"""Conformance checks for energy estimators (the ``estimator`` family).

Like scikit-learn's estimator checks, each ``check_*`` function tests one part of the
`EnergyEstimator` contract and raises ``AssertionError`` with a message that says what is
wrong and how to fix it; `check_estimator` runs them all on a copy of the estimator.
`check_registered_estimator` builds an installed kind with its declared sample shape and
fast parameters (`emma_plugins.testing.samples`) and runs them all::

    @pytest.mark.parametrize("kind", registered_estimator_kinds())
    def test_estimator_contract(kind):
        check_registered_estimator(kind)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from pydantic import BaseModel
from torch import Tensor

from emma_plugins.core.contracts import HasScoreDistribution
from emma_plugins.core.plugins import get_registry
from emma_plugins.core.registry import Registration
from emma_plugins.estimators.base import ArrayLike, EnergyEstimator, as_tensor
from emma_plugins.testing._assertions import (
    ATOL,
    RTOL,
    assert_all_float64,
    assert_all_on_device,
    assert_contract,
    assert_params_forbid_extra,
    assert_tensors_registered,
    scrambled_copy,
    state_dict_copy,
)
from emma_plugins.testing._assertions import assert_close as _assert_close
from emma_plugins.testing._assertions import assert_per_sample as _assert_per_sample
from emma_plugins.testing._assertions import name_of as _name
from emma_plugins.testing._assertions import tensors as _tensors
from emma_plugins.testing._kit import Case, FamilyKit, Params
from emma_plugins.testing.samples import N_SAMPLES, fast_params, mode_shapes_for, sample

__all__ = [
    "ATOL",
    "ESTIMATOR_CHECKS",
    "RTOL",
    "check_batch_independence",
    "check_device_move",
    "check_dtype_move",
    "check_estimator",
    "check_fit",
    "check_gradients_flow",
    "check_potential",
    "check_registered_estimator",
    "check_scores",
    "check_state_dict_round_trip",
    "check_tensors_registered",
    "estimator_sample",
    "registered_estimator_kinds",
]

#: Samples the estimator checks fit on (the batch-independence check needs at least 3).
ESTIMATOR_SAMPLES = 4 * N_SAMPLES


def _x_for(estimator: torch.nn.Module, x: ArrayLike) -> Tensor:
    floating = [t for _, t in _tensors(estimator) if t.is_floating_point()]
    reference = floating[0] if floating else torch.empty(0)
    return as_tensor(x).to(device=reference.device, dtype=reference.dtype)


# -- the checks --------------------------------------------------------------------------------
def check_fit(estimator: EnergyEstimator, x: ArrayLike) -> None:
    """``fit`` returns ``self`` and records a finite training minimum of every score.

    Fits ``estimator`` in place (`check_estimator` works on a copy).
    """
    data = _x_for(estimator, x)
    result = estimator.fit(data, progress=False)
    if result is not estimator:
        raise AssertionError(
            f"fit(data) must return self so calls chain (est = Kind(...).fit(x)), returned "
            f"{type(result).__name__}; end fit with 'return self' or implement _fit instead."
        )
    with torch.no_grad():
        potential = estimator.potential(data)
    _assert_per_sample(potential, len(data), "potential(x) after fit(x)")
    if not estimator.is_fitted:
        raise AssertionError(
            "fit(data) did not record the fitted minima (potential_min is NaN); let the base "
            "class fit call calibrate(x), or call it yourself at the end of fit."
        )
    for name in estimator.score_names:
        value = estimator.score_min(name)
        if not bool(torch.isfinite(value)):
            raise AssertionError(f"fit(data) recorded a non-finite {name}_min: {float(value)}.")
    _assert_close(
        estimator.score_min("potential").reshape(1),
        potential.min().reshape(1),
        "potential_min after fit(data) must be the minimum potential over data",
    )
    if isinstance(estimator, HasScoreDistribution):
        for name in estimator.score_names:
            quantiles, std = estimator.score_quantiles(name), estimator.score_std(name)
            if not bool(torch.isfinite(quantiles).all() and torch.isfinite(std)):
                raise AssertionError(
                    f"fit(data) recorded non-finite {name}_quantiles or {name}_std; let the "
                    "base class fit call calibrate(x)."
                )
        _assert_close(
            estimator.score_quantiles("potential")[[0, -1]],
            torch.stack([potential.min(), potential.max()]),
            "potential_quantiles after fit(data) must run from the minimum to the maximum "
            "potential over data",
        )


def check_potential(estimator: EnergyEstimator, x: ArrayLike) -> None:
    """``potential(x)`` is finite, shaped ``(N,)``, and leaves ``x`` untouched."""
    data = _x_for(estimator, x)
    before = data.clone()
    with torch.no_grad():
        potential = estimator.potential(data)
    _assert_per_sample(potential, len(data), "potential(x)")
    if not torch.equal(data, before):
        raise AssertionError("potential(x) modified its input in place; work on a copy.")


def check_scores(estimator: EnergyEstimator, x: ArrayLike) -> None:
    """``scores(x)`` names every score, each finite and ``(N,)``, even under ``no_grad``."""
    data = _x_for(estimator, x)
    with torch.no_grad():
        scores = estimator.scores(data)
        potential = estimator.potential(data)
    if not isinstance(scores, dict):
        raise AssertionError(f"scores(x) must return a dict, got {type(scores).__name__}.")
    missing = sorted({"potential", "grad_norm", *estimator.score_names} - set(scores))
    if missing:
        raise AssertionError(
            f"scores(x) lacks {', '.join(missing)}; it returned {', '.join(scores) or 'nothing'}. "
            "Call super().scores(x) and add your own scores to its dict."
        )
    for name, value in scores.items():
        _assert_per_sample(value, len(data), f"scores(x)[{name!r}] (computed under no_grad)")
    if bool((scores["grad_norm"] < 0).any()):
        raise AssertionError("scores(x)['grad_norm'] is a norm and must not be negative.")
    _assert_close(
        scores["potential"], potential, "scores(x)['potential'] differs from potential(x)"
    )


def check_gradients_flow(estimator: EnergyEstimator, x: ArrayLike) -> None:
    """Autograd reaches the input: d sum(Psi) / d x is finite and not all zero."""
    leaf = _x_for(estimator, x).clone().requires_grad_(True)
    with torch.enable_grad():
        potential = estimator.potential(leaf)
        if not potential.requires_grad:
            raise AssertionError(
                "potential(x) is detached from x: gradients cannot flow back to the input. "
                "Compute it with torch operations only (no .detach(), .item(), numpy)."
            )
        (grad,) = torch.autograd.grad(potential.sum(), leaf, allow_unused=True)
    if grad is None:
        raise AssertionError("potential(x) does not depend on x: its gradient is None.")
    if not bool(torch.isfinite(grad).all()):
        raise AssertionError("the gradient of potential(x) with respect to x is not finite.")
    if not bool(grad.ne(0).any()):
        raise AssertionError("the gradient of potential(x) with respect to x is zero everywhere.")


def check_batch_independence(estimator: EnergyEstimator, x: ArrayLike) -> None:
    """A sample's potential does not depend on the rest of its batch (the original code's bug).

    Compares samples alone with the same samples inside the batch, in a permuted batch, and
    checks that d Psi_0 / d x_j is zero for every other sample j.
    """
    data = _x_for(estimator, x)
    n = len(data)
    if n < 3:
        raise ValueError(f"check_batch_independence needs at least 3 samples, got {n}.")
    advice = (
        "compute every term per sample (reduce over dim=1, never over the batch), and "
        "avoid batch statistics such as BatchNorm in training mode"
    )
    with torch.no_grad():
        full = estimator.potential(data)
        for i in range(3):
            alone = estimator.potential(data[i : i + 1])
            _assert_close(
                alone.reshape(-1),
                full[i : i + 1],
                f"potential of sample {i} alone differs from its potential inside a batch "
                f"of {n}: the potential depends on the batch; {advice}",
            )
        order = torch.randperm(n, generator=torch.Generator().manual_seed(0)).to(data.device)
        permuted = estimator.potential(data[order])
        _assert_close(
            permuted,
            full[order],
            f"potentials change when the batch is permuted; {advice}",
        )
    leaf = data.clone().requires_grad_(True)
    with torch.enable_grad():
        first = estimator.potential(leaf)[0]
        if first.requires_grad:
            (grad,) = torch.autograd.grad(first, leaf, allow_unused=True)
            if grad is not None and bool(grad[1:].ne(0).any()):
                raise AssertionError(
                    "the potential of sample 0 has a non-zero gradient with respect to other "
                    f"samples of its batch: it depends on the batch; {advice}."
                )


def check_tensors_registered(estimator: EnergyEstimator, x: ArrayLike) -> None:
    """Every tensor and submodule is registered, so ``state_dict`` and ``.to()`` see it."""
    del x  # part of the uniform check signature
    assert_tensors_registered(estimator)


def _scrambled_copy(estimator: EnergyEstimator) -> EnergyEstimator:
    """A copy whose saved tensors all hold different values, as an unfitted instance would."""
    fresh: EnergyEstimator = scrambled_copy(estimator)  # type: ignore[assignment]
    return fresh


def check_state_dict_round_trip(
    estimator: EnergyEstimator,
    x: ArrayLike,
    make: Callable[[], EnergyEstimator] | None = None,
) -> None:
    """``state_dict`` saved with ``torch.save`` and loaded with ``weights_only=True`` into a
    fresh instance gives identical potentials and fitted minima.

    ``make`` builds a fresh, unfitted instance; without it a copy of ``estimator`` with every
    saved tensor overwritten stands in.
    """
    data = _x_for(estimator, x)
    state = state_dict_copy(estimator)
    fresh = make() if make is not None else _scrambled_copy(estimator)
    fresh.to(data.device, data.dtype).train(estimator.training)
    try:
        fresh.load_state_dict(state)
    except RuntimeError as exc:
        raise AssertionError(
            f"state_dict() does not load into a fresh instance: {exc}. Allocate every buffer "
            "with its final shape in __init__."
        ) from exc
    with torch.no_grad():
        expected = estimator.potential(data)
        actual = fresh.potential(data)
    _assert_close(
        actual,
        expected,
        "a fresh instance loaded from state_dict() gives different potentials: some fitted "
        "state is not saved; register it with self.register_buffer",
        rtol=0,
        atol=0,
    )
    for name in estimator.score_names:
        for statistic in ("min", "quantiles", "std"):
            key = f"{name}_{statistic}"
            saved, loaded = getattr(estimator, key, None), getattr(fresh, key, None)
            if saved is None or loaded is None:
                continue
            if not torch.equal(saved.nan_to_num(-1.0), loaded.nan_to_num(-1.0)):
                raise AssertionError(
                    f"{key} is {loaded.tolist()} after loading, not {saved.tolist()}."
                )


def check_dtype_move(estimator: EnergyEstimator, x: ArrayLike) -> None:
    """``.to(torch.float64)`` converts every floating parameter and buffer, and the potential
    is then computed in float64 and agrees with the float32 one."""
    data = _x_for(estimator, x)
    moved = copy.deepcopy(estimator).to(torch.float64)
    assert_all_float64(moved)
    with torch.no_grad():
        expected = estimator.potential(data)
        actual = moved.potential(data.double())
    if actual.dtype != torch.float64:
        raise AssertionError(
            f"after .to(torch.float64) potential(x) returns {actual.dtype}: a tensor made "
            "inside potential has a fixed dtype; create it like the input (x.new_tensor, "
            "torch.zeros(..., dtype=x.dtype, device=x.device))."
        )
    _assert_close(
        actual, expected, "potential in float64 disagrees with float32", rtol=1e-3, atol=1e-4
    )


def check_device_move(
    estimator: EnergyEstimator, x: ArrayLike, device: str | torch.device = "meta"
) -> None:
    """``.to(device)`` moves every parameter and buffer, and ``potential`` then runs there.

    The default, PyTorch's ``meta`` device, needs no accelerator: it catches tensors left
    behind and tensors created on the CPU inside ``potential``. On a real device the
    potentials must also agree with the CPU ones.
    """
    device = torch.device(device)
    data = _x_for(estimator, x)
    moved = copy.deepcopy(estimator).to(device)
    assert_all_on_device(moved, device, str(device))
    try:
        with torch.no_grad():
            actual = moved.potential(data.to(device))
    except NotImplementedError:
        if device.type == "meta":
            return  # an operation with data-dependent shapes has no meta kernel
        raise
    except RuntimeError as exc:
        raise AssertionError(
            f"potential(x) fails after .to({str(device)!r}): {exc}. Create tensors inside "
            "potential on the input's device (x.new_zeros, torch.zeros(..., device=x.device)); "
            "an estimator that cannot run there by design can skip this check."
        ) from exc
    if actual.device.type != device.type:
        raise AssertionError(f"potential(x) on {device} returned a tensor on {actual.device}.")
    _assert_per_sample(actual, len(data), f"potential(x) on {device}")
    if device.type != "meta":
        with torch.no_grad():
            expected = estimator.potential(data)
        _assert_close(actual, expected, f"potential on {device} disagrees with the original")


def check_autocast(estimator: EnergyEstimator, x: ArrayLike) -> None:
    """``potential`` runs under CPU autocast (bfloat16, what ``training.precision: bf16``
    trains the network in) and returns finite float values per sample.

    EMMA computes potentials with autocast off, so the values need not match float32; an
    estimator must only not break when called inside an autocast region (a plugin's own
    training may run it there)."""
    data = _x_for(estimator, x)
    with torch.no_grad(), torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        actual = estimator.potential(data)
    if not actual.is_floating_point():
        raise AssertionError(f"potential(x) under autocast returns {actual.dtype}.")
    _assert_per_sample(actual.float(), len(data), "potential(x) under autocast")


#: Every check, in the order `check_estimator` runs them (fitting first, so that the
#: later checks see fitted buffers).
ESTIMATOR_CHECKS: tuple[Callable[[EnergyEstimator, ArrayLike], None], ...] = (
    check_fit,
    check_potential,
    check_scores,
    check_gradients_flow,
    check_batch_independence,
    check_tensors_registered,
    check_state_dict_round_trip,
    check_dtype_move,
    check_device_move,
    check_autocast,
)


def _default_devices() -> tuple[str, ...]:
    return ("meta", "cuda") if torch.cuda.is_available() else ("meta",)


def check_estimator(
    estimator: EnergyEstimator,
    x: ArrayLike,
    *,
    make: Callable[[], EnergyEstimator] | None = None,
    devices: Sequence[str | torch.device] | None = None,
) -> None:
    """Run every check on a copy of ``estimator`` with samples ``x`` (at least 3).

    ``make`` builds a fresh unfitted instance for the ``state_dict`` round trip;
    ``devices`` are the devices to move to (default ``meta``, plus ``cuda`` when present).
    Raises ``AssertionError`` naming the first check that fails.
    """
    if not isinstance(estimator, EnergyEstimator):
        raise AssertionError(
            f"{_name(estimator)} is not an EnergyEstimator; subclass "
            "emma_plugins.EnergyEstimator and implement potential(x) and _fit(x, progress)."
        )
    if len(as_tensor(x)) < 3:
        raise ValueError(f"check_estimator needs at least 3 samples, got {len(as_tensor(x))}.")
    estimator = copy.deepcopy(estimator)
    targets = _default_devices() if devices is None else tuple(devices)
    runs: list[tuple[str, Callable[[], None]]] = []
    for check in ESTIMATOR_CHECKS:
        if check is check_state_dict_round_trip:
            runs.append((check.__name__, partial(check_state_dict_round_trip, estimator, x, make)))
        elif check is check_device_move:
            runs += [
                (f"{check.__name__}({str(d)!r})", partial(check_device_move, estimator, x, d))
                for d in targets
            ]
        else:
            runs.append((check.__name__, partial(check, estimator, x)))
    for label, run in runs:  # in order: each run sees the estimator fitted by check_fit
        try:
            run()
        except AssertionError as exc:
            raise AssertionError(f"{label} failed for {_name(estimator)}: {exc}") from exc
        except Exception as exc:  # the estimator itself raised: that check fails too
            raise AssertionError(
                f"{label} failed for {_name(estimator)}: {type(exc).__name__}: {exc}"
            ) from exc


# -- the registry ------------------------------------------------------------------------------
def registered_estimator_kinds() -> list[str]:
    """Every installed estimator kind (built-in or plugin), for ``pytest.mark.parametrize``."""
    return get_registry("estimator").kinds()


def estimator_sample(kind: str, n: int = ESTIMATOR_SAMPLES, seed: int = 0) -> Tensor:
    """``n`` samples shaped as ``kind`` declares (``conformance_shape``), else flat ``(4,)``."""
    (shape,) = mode_shapes_for("estimator", get_registry("estimator").get(kind))
    return sample(shape, n, seed)


def check_registered_estimator(
    kind: str,
    x: ArrayLike | None = None,
    params: BaseModel | dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Build ``kind`` from the registry for samples shaped like ``x[0]`` and run every check.

    ``x`` defaults to `estimator_sample` (the kind's declared sample shape) and ``params``
    are laid over the kind's fast parameters (``conformance_params``); see
    `emma_plugins.testing.samples`. Also checks that the registered parameter model rejects
    unknown fields (``extra="forbid"``), so a misspelled spec field fails instead of being
    ignored. ``kwargs`` go to `check_estimator` (``devices``).
    """
    registration = get_registry("estimator").get(kind)
    assert_params_forbid_extra("estimator", registration)
    data = estimator_sample(kind) if x is None else x
    shape = tuple(as_tensor(data).shape[1:])
    values = fast_params(registration, params)

    def make() -> EnergyEstimator:
        built: EnergyEstimator = registration.build(values, shape=shape)
        return built

    estimator = make()
    assert_contract("estimator", estimator)
    check_estimator(estimator, data, make=make, **kwargs)


def estimator_case(registration: Registration, params: Params = None) -> Case:
    """A fitted estimator of ``registration`` on `estimator_sample`, for the parametrized kit."""
    (shape,) = mode_shapes_for("estimator", registration)
    x = sample(shape, ESTIMATOR_SAMPLES)
    values = fast_params(registration, params)

    def make() -> EnergyEstimator:
        built: EnergyEstimator = registration.build(values, shape=shape)
        return built

    return Case(make().fit(x, progress=False), x, make)


KIT = FamilyKit("estimator", ESTIMATOR_CHECKS, estimator_case)
