"""Conformance checks for gates (the ``gate`` slot, equation 5.5).

``forward(importance [N, M]) -> attention [N, M]`` with values in ``[0, 1]``; a gate also
reports its capacity (`emma_plugins.core.contracts.HasCapacity`): ``capacity()``,
``effective_capacity()`` and ``capacity_penalty()``, finite scalars, the penalty carrying
gradients to the gate's parameters (the ``lambda_c`` regularizer trains through it).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.core.registry import Registration
from emma_plugins.testing._assertions import assert_tensor
from emma_plugins.testing._kit import Case, FamilyKit, Params, registration_of, run_kit
from emma_plugins.testing._modules import MODULE_CHECKS, perturbed
from emma_plugins.testing.samples import N_MODES, N_SAMPLES, fast_params, sample

__all__ = [
    "GATE_CHECKS",
    "check_capacity",
    "check_gate",
    "check_gate_output",
    "check_registered_gate",
    "gate_inputs",
]


def gate_inputs(n_modes: int = N_MODES, n: int = N_SAMPLES) -> tuple[Tensor]:
    """``(importance [n, n_modes],)``: rows of a softmax, as the importance stage gives."""
    return (torch.softmax(sample((n_modes,), n) * 2.0, dim=1),)


def check_gate_output(gate: nn.Module, inputs: tuple[Tensor]) -> None:
    """``forward(importance)`` is ``[N, M]``, finite, in ``[0, 1]``."""
    (importance,) = inputs
    for candidate in (gate, perturbed(gate)):
        with torch.no_grad():
            attention = candidate(importance)
        assert_tensor(attention, importance.shape, "forward(importance)")
        if bool(((attention < 0) | (attention > 1)).any()):
            raise AssertionError(
                f"attention must lie in [0, 1], got values in [{float(attention.min()):.4g}, "
                f"{float(attention.max()):.4g}] (e.g. clamp with max(0, tanh(.)))."
            )


def check_capacity(gate: nn.Module, inputs: tuple[Tensor]) -> None:
    """The capacities are finite scalars and the penalty trains the gate's parameters."""
    del inputs
    gate = perturbed(gate)
    for name in ("capacity", "effective_capacity", "capacity_penalty"):
        value = getattr(gate, name)()
        if not isinstance(value, Tensor) or value.numel() != 1:
            raise AssertionError(
                f"{name}() must return a scalar tensor, got "
                f"{getattr(value, 'shape', type(value).__name__)}."
            )
        if not bool(torch.isfinite(value).all()):
            raise AssertionError(f"{name}() is not finite: {float(value)}.")
    trainable = [p for p in gate.parameters() if p.requires_grad]
    penalty: Tensor = gate.capacity_penalty()  # type: ignore[operator]
    if trainable and not penalty.requires_grad:
        raise AssertionError(
            "capacity_penalty() is detached from the gate's parameters, so the lambda_c "
            "regularizer cannot lower the capacity; compute it from the parameters."
        )


GATE_CHECKS = (check_gate_output, check_capacity, *MODULE_CHECKS)


def gate_case(registration: Registration, params: Params = None) -> Case:
    values = fast_params(registration, params)

    def make() -> Any:
        return registration.build(values, n_modes=N_MODES)

    return Case(make(), gate_inputs(), make)


def check_gate(gate: nn.Module, inputs: tuple[Tensor] | None = None) -> None:
    """Run every gate check on copies of ``gate``."""
    inputs = inputs or gate_inputs(n_modes=getattr(gate, "n_modes", N_MODES))
    run_kit(KIT, Case(gate, inputs))


def check_registered_gate(kind: str, params: Params = None) -> None:
    """Build the installed gate ``kind`` with fast parameters and run every check."""
    run_kit(KIT, gate_case(registration_of("gate", kind), params), kind)


KIT = FamilyKit("gate", GATE_CHECKS, gate_case)
