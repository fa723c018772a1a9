"""EMMA's attention module (steps 2-5 of figure 5.1) and the unified model of chapter 7.

`EnergyAttention` composes one stage per slot (correction, modal_energy, importance, gate,
and optionally endogenous and cross_modal); `build_attention` looks the stages' kinds up
in the registries. See ``docs/attention.md``.
"""

from emma_plugins.attention.build import DEFAULT_STAGES, build_attention
from emma_plugins.attention.module import STAGE_SLOTS, EnergyAttention
from emma_plugins.attention.regularizers import (
    balancing_fraction,
    capacity_penalty,
    energy_regularizer,
    xi_from_corrupted,
)
from emma_plugins.attention.report import AttentionReport

__all__ = [
    "DEFAULT_STAGES",
    "STAGE_SLOTS",
    "AttentionReport",
    "EnergyAttention",
    "balancing_fraction",
    "build_attention",
    "capacity_penalty",
    "energy_regularizer",
    "xi_from_corrupted",
]
