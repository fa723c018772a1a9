"""Built-in multi-modal networks (MMN): ``network(modes: list[Tensor]) -> logits [N, out]``."""

from .encoder_fusion import EncoderFusion, EncoderFusionParams
from .interfaces import HasQualityScores, HasTrainingLoss, HasUncertainty
from .late_fusion import LateFusion, LateFusionParams
from .layers import ACTIVATIONS, LayerParams, mlp_stack
from .linear_attention import LinearAttention, LinearAttentionParams
from .mlp import MLP, MLPParams
from .mmdynamics import MMDynamics, MMDynamicsParams
from .qmf import QMF, QMFParams
from .tmc import TMC, TMCParams

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
