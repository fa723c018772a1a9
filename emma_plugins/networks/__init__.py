"""Built-in multi-modal networks (MMN): ``network(modes: list[Tensor]) -> logits [N, out]``."""

from emma_plugins.networks.encoder_fusion import EncoderFusion, EncoderFusionParams
from emma_plugins.networks.interfaces import HasQualityScores, HasTrainingLoss, HasUncertainty
from emma_plugins.networks.late_fusion import LateFusion, LateFusionParams
from emma_plugins.networks.layers import ACTIVATIONS, LayerParams, mlp_stack
from emma_plugins.networks.linear_attention import LinearAttention, LinearAttentionParams
from emma_plugins.networks.mlp import MLP, MLPParams
from emma_plugins.networks.mmdynamics import MMDynamics, MMDynamicsParams
from emma_plugins.networks.qmf import QMF, QMFParams
from emma_plugins.networks.tmc import TMC, TMCParams

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "QMF",
    "TMC",
    "EncoderFusion",
    "EncoderFusionParams",
    "HasQualityScores",
    "HasTrainingLoss",
    "HasUncertainty",
    "LateFusion",
    "LateFusionParams",
    "LayerParams",
    "LinearAttention",
    "LinearAttentionParams",
    "MLPParams",
    "MMDynamics",
    "MMDynamicsParams",
    "QMFParams",
    "TMCParams",
    "mlp_stack",
]
