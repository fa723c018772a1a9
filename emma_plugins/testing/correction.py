"""Conformance checks for correction stages (the ``correction`` slot, equation 5.3).

A correction maps the estimators' scores ``[N, M]`` to potentials that are finite and at
least Euler's number, so that the modal energies downstream (computed in log space) stay
finite. A correction that needs the estimators' fitted minima defines ``calibrate``
(`emma_plugins.core.contracts.Calibrated`), one that needs their whole training
distribution ``calibrate_distribution`` (`CalibratedByDistribution`); the kit calibrates
it on its sample first, as `EnergyAttention.calibrate_` would (the distribution first).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.core.contracts import Calibrated, CalibratedByDistribution, ScoreDistribution
from emma_plugins.core.registry import Registration
from emma_plugins.testing._assertions import assert_tensor
from emma_plugins.testing._kit import Case, FamilyKit, Params, registration_of, run_kit
from emma_plugins.testing._modules import MODULE_CHECKS
from emma_plugins.testing.samples import N_MODES, N_SAMPLES, fast_params, sample

__all__ = [
    "CORRECTION_CHECKS",
    "check_correction",
    "check_correction_output",
    "check_registered_correction",
    "correction_inputs",
]


def correction_inputs(n_modes: int = N_MODES, n: int = N_SAMPLES) -> tuple[Tensor]:
    """``(scores [n, n_modes],)``: raw potentials of several magnitudes and signs."""
    return (sample((n_modes,), n) * 3.0 + 2.0,)


def _calibrated(stage: nn.Module, scores: Tensor) -> nn.Module:
    if isinstance(stage, CalibratedByDistribution):
        stage.calibrate_distribution(ScoreDistribution.from_scores(scores))
    elif isinstance(stage, Calibrated):
        stage.calibrate(scores.min(dim=0).values)
    return stage


def check_correction_output(stage: nn.Module, inputs: tuple[Tensor]) -> None:
    """``forward(scores)`` is ``[N, M]``, finite, at least e, and leaves ``scores`` untouched."""
    (scores,) = inputs
    before = scores.clone()
    with torch.no_grad():
        potential = stage(scores)
    assert_tensor(potential, scores.shape, "forward(scores)")
    if bool((potential < math.e - 1e-5).any()):
        raise AssertionError(
            f"forward(scores) returned {float(potential.min()):.4g} < e: the modal energies "
            "need corrected potentials >= e (e.g. max(e, Psi - Psi_min + e))."
        )
    if not torch.equal(scores, before):
        raise AssertionError("forward(scores) modified its input in place; work on a copy.")


CORRECTION_CHECKS = (check_correction_output, *MODULE_CHECKS)


def correction_case(registration: Registration, params: Params = None) -> Case:
    values = fast_params(registration, params)
    inputs = correction_inputs()

    def make() -> Any:
        return registration.build(values, n_modes=N_MODES)

    return Case(_calibrated(make(), inputs[0]), inputs, make)


def check_correction(stage: nn.Module, inputs: tuple[Tensor] | None = None) -> None:
    """Run every correction check on copies of ``stage`` (calibrated on ``inputs`` first)."""
    inputs = inputs or correction_inputs(n_modes=getattr(stage, "n_modes", N_MODES))
    run_kit(KIT, Case(_calibrated(copy.deepcopy(stage), inputs[0]), inputs))


def check_registered_correction(kind: str, params: Params = None) -> None:
    """Build the installed correction ``kind`` with fast parameters and run every check."""
    run_kit(KIT, correction_case(registration_of("correction", kind), params), kind)


KIT = FamilyKit("correction", CORRECTION_CHECKS, correction_case)
