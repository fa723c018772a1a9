"""The integrability criterion (appendix C.1) as a number, and a field that fails it.

Shared by the tests of the structured energies and of the estimator plugins built on them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def field_jacobians(field: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """The Jacobian ``d field_i / d x_j`` of a per-sample field at each sample, ``(N, D, D)``."""
    size = math.prod(x.shape[1:])
    jacobians = [
        torch.autograd.functional.jacobian(lambda s: field(s.unsqueeze(0)).flatten(), sample)
        for sample in x  # a handful of samples: each Jacobian is one D x D matrix
    ]
    return torch.stack(jacobians).reshape(len(x), size, size)


def jacobian_asymmetry(field: Callable[[Tensor], Tensor], x: Tensor) -> float:
    """``max_i ||J_i - J_i^T|| / ||J_i||``: zero exactly when the field is a gradient field."""
    jacobians = field_jacobians(field, x)
    asymmetry = (jacobians - jacobians.mT).norm(dim=(1, 2)) / jacobians.norm(dim=(1, 2))
    return float(asymmetry.max())


class UntiedConvAutoencoder(nn.Module):
    """Negative control: a convolutional DAE with separate encoder and decoder weights.

    ``r(x) = deconv(softplus(conv(x)))``: smooth like the structured energies, but its
    field ``r(x) - x`` has the Jacobian ``D diag(softplus') E - I`` with ``D != E^T``, so
    it is not the gradient of any potential (section 4.4). With ``tied=True`` the decoder
    is the encoder's transpose and the field becomes integrable again (Kamyshanska and
    Memisevic), which shows that the asymmetry comes from the missing tie alone.
    """

    def __init__(
        self, channels: int = 1, hidden: int = 4, seed: int = 0, tied: bool = False
    ) -> None:
        super().__init__()
        self.tied = tied
        generator = torch.Generator().manual_seed(seed)
        self.encoder = nn.Parameter(0.5 * torch.randn(hidden, channels, 3, 3, generator=generator))
        self.decoder = nn.Parameter(0.5 * torch.randn(hidden, channels, 3, 3, generator=generator))
        self.bias = nn.Parameter(torch.zeros(hidden))

    def reconstruction_field(self, x: Tensor) -> Tensor:
        hidden = F.softplus(F.conv2d(x, self.encoder, self.bias, padding=1))
        decoder = self.encoder if self.tied else self.decoder
        return F.conv_transpose2d(hidden, decoder, padding=1) - x
