"""Built-in multi-modal networks (MMN): ``network(modes: list[Tensor]) -> logits [N, out]``."""

from .encoder_fusion import EncoderFusion, EncoderFusionParams
from .late_fusion import LateFusion, LateFusionParams
from .layers import ACTIVATIONS, LayerParams, mlp_stack
from .mlp import MLP, MLPParams

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "EncoderFusion",
    "EncoderFusionParams",
    "LateFusion",
    "LateFusionParams",
    "LayerParams",
    "MLPParams",
    "mlp_stack",
]
