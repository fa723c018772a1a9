"""Registers the built-in attention-stage kinds."""

from __future__ import annotations

from emma_plugins.attention.correction import MinShift, StandardizedParams, StandardizedShift
from emma_plugins.attention.cross_modal import MultiHeadCrossModal, MultiHeadParams
from emma_plugins.attention.endogenous import SigmoidMask, SigmoidMaskParams
from emma_plugins.attention.gate import IdentityGate, PerModeGate, SharedTanhGate, SharedTanhParams
from emma_plugins.attention.importance import Boltzmann, BoltzmannParams
from emma_plugins.attention.modal_energy import CoupledEnergy, CoupledParams, SelfEnergy
from emma_plugins.core.hookspecs import Register, hookimpl


@hookimpl
def register_corrections(register: Register) -> None:
    register("min_shift", MinShift)
    register("standardized", StandardizedShift, StandardizedParams)


@hookimpl
def register_modal_energies(register: Register) -> None:
    register("coupled", CoupledEnergy, CoupledParams)
    register("self_only", SelfEnergy)


@hookimpl
def register_importances(register: Register) -> None:
    register("boltzmann", Boltzmann, BoltzmannParams)


@hookimpl
def register_gates(register: Register) -> None:
    register("shared_tanh", SharedTanhGate, SharedTanhParams)
    register("per_mode", PerModeGate)
    register("identity", IdentityGate)


@hookimpl
def register_endogenous(register: Register) -> None:
    register("sigmoid_mask", SigmoidMask, SigmoidMaskParams)


@hookimpl
def register_cross_modal(register: Register) -> None:
    register("mha", MultiHeadCrossModal, MultiHeadParams)
