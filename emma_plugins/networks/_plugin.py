"""Registers the built-in networks: mlp, late_fusion, encoder_fusion and the robustness
baselines linear_attention, qmf, tmc and mmdynamics."""

from __future__ import annotations

from emma_plugins.core.hookspecs import Register, hookimpl
from emma_plugins.networks.encoder_fusion import EncoderFusion, EncoderFusionParams
from emma_plugins.networks.late_fusion import LateFusion, LateFusionParams
from emma_plugins.networks.linear_attention import LinearAttention, LinearAttentionParams
from emma_plugins.networks.mlp import MLP, MLPParams
from emma_plugins.networks.mmdynamics import MMDynamics, MMDynamicsParams
from emma_plugins.networks.qmf import QMF, QMFParams
from emma_plugins.networks.tmc import TMC, TMCParams


@hookimpl
def register_networks(register: Register) -> None:
    register("mlp", MLP, MLPParams)
    register("late_fusion", LateFusion, LateFusionParams)
    register("encoder_fusion", EncoderFusion, EncoderFusionParams)
    register("linear_attention", LinearAttention, LinearAttentionParams)
    register("qmf", QMF, QMFParams)
    register("tmc", TMC, TMCParams)
    register("mmdynamics", MMDynamics, MMDynamicsParams)
