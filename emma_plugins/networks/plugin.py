"""Registers the built-in networks: mlp, late_fusion, encoder_fusion and the robustness
baselines linear_attention, qmf, tmc and mmdynamics."""

from __future__ import annotations

from ..hookspecs import Register, hookimpl
from .encoder_fusion import EncoderFusion, EncoderFusionParams
from .late_fusion import LateFusion, LateFusionParams
from .linear_attention import LinearAttention, LinearAttentionParams
from .mlp import MLP, MLPParams
from .mmdynamics import MMDynamics, MMDynamicsParams
from .qmf import QMF, QMFParams
from .tmc import TMC, TMCParams


@hookimpl
def register_networks(register: Register) -> None:
    register("mlp", MLP, MLPParams)
    register("late_fusion", LateFusion, LateFusionParams)
    register("encoder_fusion", EncoderFusion, EncoderFusionParams)
    register("linear_attention", LinearAttention, LinearAttentionParams)
    register("qmf", QMF, QMFParams)
    register("tmc", TMC, TMCParams)
    register("mmdynamics", MMDynamics, MMDynamicsParams)
