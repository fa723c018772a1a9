"""Conformance checks for importance stages (the ``importance`` slot, equation 5.4).

``forward(modal_energy [N, M], present [N, M] bool)`` returns ``log alpha [N, M]``: at the
present modes of each sample, log-probabilities that sum (after ``exp``) to one. Missing
modes may hold ``-inf`` but never NaN; a sample with no present mode must stay finite (the
module zeroes it afterwards, and NaN would leak into the gradients). The trainer anneals
the coldness: ``set_coldness(rho)`` then ``coldness == rho``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.core.registry import Registration
from emma_plugins.testing._assertions import assert_close
from emma_plugins.testing._kit import Case, FamilyKit, Params, registration_of, run_kit
from emma_plugins.testing._modules import MODULE_CHECKS
from emma_plugins.testing.modal_energy import ignores_missing
from emma_plugins.testing.samples import N_MODES, N_SAMPLES, fast_params, present_mask, sample

__all__ = [
    "IMPORTANCE_CHECKS",
    "check_coldness",
    "check_importance",
    "check_importance_ignores_missing",
    "check_importance_output",
    "check_registered_importance",
    "importance_inputs",
]


def importance_inputs(n_modes: int = N_MODES, n: int = N_SAMPLES) -> tuple[Tensor, Tensor]:
    """``(modal_energy [n, n_modes], present [n, n_modes])``; see `present_mask`."""
    return 1.0 + sample((n_modes,), n).abs() * 3.0, present_mask(n, n_modes)


def check_importance_output(stage: nn.Module, inputs: tuple[Tensor, Tensor]) -> None:
    """``log alpha`` is ``[N, M]``, never NaN, finite and normalised over present modes."""
    energy, present = inputs
    with torch.no_grad():
        log_alpha = stage(energy, present)
    if not isinstance(log_alpha, Tensor) or tuple(log_alpha.shape) != tuple(energy.shape):
        got = tuple(log_alpha.shape) if isinstance(log_alpha, Tensor) else type(log_alpha)
        raise AssertionError(
            f"forward(modal_energy, present) must return log importance shaped "
            f"{tuple(energy.shape)}, got {got}."
        )
    if bool(log_alpha.isnan().any()):
        raise AssertionError(
            "forward(modal_energy, present) returned NaN; mask missing modes with -inf before "
            "log_softmax and give samples with no present mode finite (uniform) logits."
        )
    if bool((~torch.isfinite(log_alpha[present])).any()):
        raise AssertionError("log importance must be finite at present modes.")
    rows = present.any(dim=1)
    if not bool(torch.isfinite(log_alpha[~rows]).all()):
        raise AssertionError(
            "log importance of a sample with no present mode must be finite (the module "
            "zeroes it, but -inf or NaN would reach the gradients)."
        )
    mass = torch.where(present, log_alpha.exp(), 0.0).sum(dim=1)
    assert_close(
        mass[rows],
        torch.ones_like(mass[rows]),
        "exp(log importance) must sum to 1 over the present modes of each sample "
        "(normalise with a masked log_softmax)",
    )


def check_importance_ignores_missing(stage: nn.Module, inputs: tuple[Tensor, Tensor]) -> None:
    """A missing mode's energy does not change the importance of the present modes."""

    def change(args: tuple[Any, ...], missing: Tensor) -> tuple[Any, ...]:
        return torch.where(missing, args[0] - 5.0, args[0]), args[1]

    ignores_missing(stage, inputs, change, inputs[1], "the modal energy")


def check_coldness(stage: nn.Module, inputs: tuple[Tensor, Tensor]) -> None:
    """``set_coldness(rho)`` sets ``coldness`` to ``rho`` (the trainer anneals it)."""
    del inputs
    annealable: Any = stage
    for rho in (0.5, 2.0):
        annealable.set_coldness(rho)
        if abs(float(annealable.coldness) - rho) > 1e-6 * rho:
            raise AssertionError(
                f"after set_coldness({rho}) coldness is {annealable.coldness}; coldness must "
                "report the rho in use."
            )


IMPORTANCE_CHECKS = (
    check_importance_output,
    check_importance_ignores_missing,
    check_coldness,
    *MODULE_CHECKS,
)


def importance_case(registration: Registration, params: Params = None) -> Case:
    values = fast_params(registration, params)

    def make() -> Any:
        return registration.build(values, n_modes=N_MODES)

    return Case(make(), importance_inputs(), make)


def check_importance(stage: nn.Module, inputs: tuple[Tensor, Tensor] | None = None) -> None:
    """Run every importance check on copies of ``stage``."""
    inputs = inputs or importance_inputs(n_modes=getattr(stage, "n_modes", N_MODES))
    run_kit(KIT, Case(stage, inputs))


def check_registered_importance(kind: str, params: Params = None) -> None:
    """Build the installed importance ``kind`` with fast parameters and run every check."""
    run_kit(KIT, importance_case(registration_of("importance", kind), params), kind)


KIT = FamilyKit("importance", IMPORTANCE_CHECKS, importance_case)
