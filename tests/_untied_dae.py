"""A negative control for the integrability argument of section 4.2 (appendix C.1).

`UntiedDAE` is **not an estimator for users** and is not registered as a kind. It is the
tied DAE with the tie cut: the decoder gets its own weight matrix, everything else (the
encoder, the biases, the sigmoid, the denoising loss, the training loop) is inherited
unchanged, so it trains exactly the same way. Its ``potential`` is still the closed form
(4.7) of the encoder, but its reconstruction field ``r(x) - x`` no longer satisfies the
symmetry criterion (C.1), so that field is not ``-grad Psi`` of this or any potential.
Tests use it to show that the tied DAE's field-equals-gradient check can fail.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.estimators import TiedDAE
from emma_plugins.estimators.dae import glorot_uniform


class UntiedDAE(TiedDAE):
    """Control only: ``r(x) = W_g^T sigmoid(W_f x + b_h) + b_r`` with ``W_g`` free of ``W_f``."""

    def __init__(self, shape: tuple[int, ...] | int, **params: Any) -> None:
        """``params``: the tied DAE's (``hidden``, ``sigma``, ``epochs``, ``seed``, ...)."""
        super().__init__(shape, **params)
        # Same Glorot bound as the encoder, but an independent draw: the two matrices must
        # differ from the start, otherwise the control would begin as a tied DAE.
        decoder = glorot_uniform(self.hidden, self.in_features, self.seed + 1)
        self.decoder_weight = nn.Parameter(decoder)

    def reconstruct(self, x: Tensor) -> Tensor:
        """``r(x)`` through the separate decoder weight, in the input's shape."""
        return (self.encode(x) @ self.decoder_weight + self.output_bias).reshape(x.shape)


def fit_on_circle(
    estimator: type[TiedDAE] = TiedDAE, *, points: int = 2_000, epochs: int = 5
) -> TiedDAE:
    """A 2-D DAE fitted on points of the unit circle with Experiment I's settings."""
    generator = torch.Generator().manual_seed(0)
    angles = torch.rand(points, generator=generator) * 2 * torch.pi
    data = torch.stack([angles.cos(), angles.sin()], dim=1)
    model = estimator(2, hidden=8, sigma=0.008, epochs=epochs, batch_size=100, lr=1e-3, seed=0)
    return model.fit(data)
