"""Registers the built-in networks: mlp, late_fusion and encoder_fusion."""

from __future__ import annotations

from ..hookspecs import Register, hookimpl
from .encoder_fusion import EncoderFusion, EncoderFusionParams
from .late_fusion import LateFusion, LateFusionParams
from .mlp import MLP, MLPParams


@hookimpl
def register_networks(register: Register) -> None:
    register("mlp", MLP, MLPParams)
    register("late_fusion", LateFusion, LateFusionParams)
    register("encoder_fusion", EncoderFusion, EncoderFusionParams)
