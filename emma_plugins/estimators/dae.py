"""The tied-weight denoising autoencoder of sections 4.1-4.2 and its closed-form potential (4.7)."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from emma_plugins.estimators.base import EnergyEstimator
from emma_plugins.estimators.training import fit_minibatch


class TiedDAEParams(BaseModel):
    """Parameters of the ``dae`` estimator (defaults: the thesis' appendix B)."""

    model_config = ConfigDict(extra="forbid")

    hidden: int = Field(12, ge=1, description="Number of sigmoid hidden units.")
    sigma: float = Field(0.01, ge=0, description="Std of the Gaussian training noise.")
    epochs: int = Field(30, ge=0, description="Training epochs.")
    batch_size: int = Field(64, ge=1, description="Mini-batch size.")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate.")
    seed: int = Field(0, description="Seed of initialisation, shuffling and noise.")


def glorot_uniform(rows: int, columns: int, seed: int) -> Tensor:
    """A ``(rows, columns)`` weight from ``U(-b, b)``, ``b = sqrt(6 / (rows + columns))``.

    Drawn from its own generator seeded with ``seed``, so the global one is left alone. The
    arithmetic is in place: on the ``meta`` device (the size check of `build`) out-of-place
    scalar arithmetic would import torch's compiler, seconds on first use.
    """
    generator = torch.Generator().manual_seed(seed)
    bound = math.sqrt(6.0 / (rows + columns))
    return torch.rand(rows, columns, generator=generator).mul_(2).sub_(1).mul_(bound)


class TiedDAE(EnergyEstimator):
    """Tied-weight DAE: ``r(x) = W^T sigmoid(W x + b_h) + b_r``.

    Tying the weights makes the reconstruction field ``r(x) - x`` integrable, so it is
    ``-grad Psi`` for the potential ``Psi(x) = -sum_k softplus(W_k x + b_h,k) + 1/2 ||x - b_r||^2``
    (Kamyshanska and Memisevic, 2014), computed per sample and with a stable softplus.
    Samples of any shape are flattened.
    """

    #: Read by the conformance kit (`emma_plugins.testing.samples`): a short fit.
    conformance_params: ClassVar[dict[str, object]] = {"epochs": 2}
    stackable = True  # K members train at once: `emma_plugins.training.stacked`

    def __init__(
        self,
        shape: tuple[int, ...] | int,
        hidden: int = 12,
        sigma: float = 0.01,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 1e-3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.in_features = math.prod(self.shape)
        self.hidden, self.sigma, self.epochs = hidden, sigma, epochs
        self.batch_size, self.lr, self.seed = batch_size, lr, seed
        self.weight = nn.Parameter(glorot_uniform(hidden, self.in_features, seed))
        self.hidden_bias = nn.Parameter(torch.zeros(hidden))
        self.output_bias = nn.Parameter(torch.zeros(self.in_features))

    def _flat(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], self.in_features)

    def potential(self, x: Tensor) -> Tensor:
        flat = self._flat(x)
        pre = F.linear(flat, self.weight, self.hidden_bias)
        quadratic = 0.5 * (flat - self.output_bias).square().sum(dim=1)
        return quadratic - F.softplus(pre).sum(dim=1)

    def encode(self, x: Tensor) -> Tensor:
        """The hidden units ``sigmoid(W x + b_h)``, ``(N, hidden)``."""
        return torch.sigmoid(F.linear(self._flat(x), self.weight, self.hidden_bias))

    def reconstruct(self, x: Tensor) -> Tensor:
        """``r(x)``, in the input's shape."""
        return (self.encode(x) @ self.weight + self.output_bias).reshape(x.shape)

    def reconstruction_field(self, x: Tensor) -> Tensor:
        """``r(x) - x``, which equals ``-grad Psi(x)`` for tied weights."""
        return self.reconstruct(x) - x

    def _fit(self, x: Tensor, progress: bool) -> None:
        def denoising_loss(batch: Tensor, generator: torch.Generator) -> Tensor:
            noise = torch.randn(batch.shape, generator=generator).to(batch.device)
            restored = self.reconstruct(batch + self.sigma * noise)
            return (restored - batch).flatten(1).square().sum(dim=1).mean()

        self.history_ = fit_minibatch(
            self,
            x,
            denoising_loss,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            progress=progress,
            desc="fit dae",
            name=self.label(),
        )

    def extra_repr(self) -> str:
        return f"shape={self.shape}, hidden={self.hidden}, sigma={self.sigma}"
