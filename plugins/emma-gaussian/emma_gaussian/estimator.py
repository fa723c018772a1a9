"""A multivariate Gaussian as an energy estimator: the potential is its exact -log p(x)."""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from emma_plugins import EnergyEstimator


class GaussianParams(BaseModel):
    """Parameters of the ``gaussian`` estimator."""

    model_config = ConfigDict(extra="forbid")

    reg: float = Field(
        1e-6,
        ge=0,
        description="Ridge added to the diagonal of the fitted covariance, so that it stays "
        "positive definite when features are collinear or samples are few.",
    )


class GaussianEstimator(EnergyEstimator):
    """Full-covariance Gaussian fitted by maximum likelihood.

    ``Psi(x) = 1/2 (x - mu)^T Sigma^-1 (x - mu) + 1/2 log det(2 pi Sigma)``, the exact negative
    log-likelihood. Sigma is kept as its Cholesky factor ``L`` (buffer ``scale_tril``), so
    one triangular solve per batch whitens every sample at once. Samples of any shape are
    flattened. Before fitting it is the standard normal.
    """

    mean: Tensor
    scale_tril: Tensor

    def __init__(self, shape: tuple[int, ...] | int, reg: float = 1e-6) -> None:
        super().__init__()
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.in_features = math.prod(self.shape)
        self.reg = reg
        self.register_buffer("mean", torch.zeros(self.in_features))
        self.register_buffer("scale_tril", torch.eye(self.in_features))

    def _flat(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(
                f"GaussianEstimator expects samples of shape {self.shape}, got a batch of shape "
                f"{tuple(x.shape)}; pass x shaped (N, {', '.join(map(str, self.shape))})."
            )
        return x.reshape(x.shape[0], self.in_features)

    def whiten(self, x: Tensor) -> Tensor:
        """``z = L^-1 (x - mu)`` per sample, ``(N, D)``; ``||z||^2`` is the Mahalanobis term."""
        diff = self._flat(x) - self.mean
        # Row form of L z = diff for every sample: Z L^T = D.
        return torch.linalg.solve_triangular(self.scale_tril.mT, diff, upper=True, left=False)

    def potential(self, x: Tensor) -> Tensor:
        z = self.whiten(x)
        log_det = self.scale_tril.diagonal().log().sum()
        constant = 0.5 * self.in_features * math.log(2 * math.pi)
        return 0.5 * z.square().sum(dim=1) + log_det + constant

    def grad_norm(self, x: Tensor, create_graph: bool = False) -> Tensor:
        """``||Sigma^-1 (x - mu)||`` in closed form: ``grad Psi = L^-T z``."""
        z = self.whiten(x)
        # Row form of L^T g = z: G L = Z.
        grad = torch.linalg.solve_triangular(self.scale_tril, z, upper=False, left=False)
        return grad.norm(dim=1)

    def _fit(self, x: Tensor, progress: bool) -> None:
        flat = self._flat(x).to(torch.float64)
        mean = flat.mean(dim=0)
        centered = flat - mean
        covariance = centered.T @ centered / flat.shape[0]
        covariance.diagonal().add_(self.reg)
        scale_tril, info = torch.linalg.cholesky_ex(covariance)
        if int(info) != 0:
            raise ValueError(
                f"The fitted covariance of {flat.shape[0]} samples with {self.in_features} "
                f"features is not positive definite (reg={self.reg}); increase the 'reg' "
                "parameter or fit on more samples."
            )
        self.mean.copy_(mean)
        self.scale_tril.copy_(scale_tril)

    def extra_repr(self) -> str:
        return f"shape={self.shape}, reg={self.reg}"
