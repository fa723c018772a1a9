"""Deep structured energies (Zhai et al., 2016): a scalar potential around any feature network.

``Psi(x) = 1/2 ||x - b||^2 / s^2 - sum_k softplus(v_k . phi(x) + c_k)``

Because ``Psi`` is a scalar function of ``x``, its gradient field is integrable by
construction (its Jacobian, the Hessian of ``Psi``, is symmetric: appendix C.1), whatever
the network ``phi``: a CNN for images or an LSTM for sequences, where a convolutional or
recurrent *autoencoder* would have no potential at all (section 4.4). It is trained by
denoising score matching with the reconstruction ``r(x) = x - sigma^2 grad Psi(x)``, so
``Psi`` estimates the negative log-likelihood of the data smoothed by the noise. A plugin
supplies only ``phi`` and its parameters; `StructuredEnergy` does the rest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import ClassVar, TypedDict

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from emma_plugins.estimators.base import EnergyEstimator
from emma_plugins.estimators.score_matching import (
    cudnn_disabled,
    denoising_score_matching_loss,
    score_matching_reconstruction,
)
from emma_plugins.estimators.training import fit_minibatch


class StructuredEnergyParams(BaseModel):
    """Fields every deep structured energy shares; a plugin adds the fields of its ``phi``."""

    model_config = ConfigDict(extra="forbid")

    experts: int = Field(
        32, ge=1, description="Number of softplus terms (experts) on top of the features."
    )
    sigma: float = Field(
        0.1, gt=0, description="Std of the denoising noise, in the units of the (scaled) data."
    )
    epochs: int = Field(20, ge=0, description="Training epochs.")
    batch_size: int = Field(64, ge=1, description="Mini-batch size.")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate.")
    seed: int = Field(0, description="Seed of initialisation, shuffling and noise.")


class StructuredTraining(TypedDict, total=False):
    """The training keywords of `StructuredEnergy`, which a subclass passes on unchanged.

    A subclass declares only its ``phi``'s sizes and takes these as
    ``**training: Unpack[StructuredTraining]``, so their defaults live in one place.
    """

    sigma: float
    epochs: int
    batch_size: int
    lr: float
    seed: int


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Draw from torch's global generator seeded with ``seed``, then restore its state.

    ``torch.nn`` layers initialise from the global generator; this makes an estimator's
    initial weights a function of its ``seed`` without disturbing anyone else's draws.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class StructuredEnergy(EnergyEstimator):
    """``Psi(x) = 1/2 ||x - b||^2 / s^2 - sum_k softplus(v_k . phi(x) + c_k)``, per sample.

    ``phi`` maps a batch shaped ``(N, *shape)`` to features ``(N, features)``. It must be
    smooth (softplus or tanh, average pooling) so that ``grad Psi`` is, and must not mix
    samples (no batch norm). The centre ``b`` (one value per input element) and the
    scale ``s`` (a scalar, stored as ``log_scale``) are learned; the first ``fit`` starts
    them at the data's mean and overall standard deviation, so training begins from the
    Gaussian that matches the data's first two moments.
    """

    #: Whether ``phi``'s cuDNN kernels may record graphs that are differentiated twice
    #: (score matching) or differentiated in eval mode (``grad_norm``). cuDNN's recurrent
    #: kernels may not: recurrent subclasses set this to False.
    cudnn_double_backward: ClassVar[bool] = True

    phi: nn.Module
    experts: nn.Linear
    center: nn.Parameter
    log_scale: nn.Parameter
    #: Mean score-matching loss of each training epoch, set by ``fit``.
    history_: list[float]

    def __init__(
        self,
        shape: tuple[int, ...],
        phi: Callable[[], nn.Module],
        *,
        features: int,
        experts: int = 32,
        sigma: float = 0.1,
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 1e-3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.in_features = math.prod(self.shape)
        self.experts_count, self.sigma, self.epochs = experts, sigma, epochs
        self.batch_size, self.lr, self.seed = batch_size, lr, seed
        with seeded(seed):
            self.phi = phi()
            self.experts = nn.Linear(features, experts)
        self.center = nn.Parameter(torch.zeros(self.shape))
        self.log_scale = nn.Parameter(torch.zeros(()))

    # -- the energy ----------------------------------------------------------------------------
    def check_input(self, x: Tensor) -> None:
        """A clear error for samples of the wrong shape, before ``phi`` fails obscurely."""
        if x.dim() != len(self.shape) + 1 or tuple(x.shape[1:]) != self.shape:
            expected = ", ".join(map(str, self.shape))
            raise ValueError(
                f"{type(self).__name__} expects samples of shape {self.shape}, got a batch of "
                f"shape {tuple(x.shape)}; pass x shaped (N, {expected})."
            )

    def _records_graph(self, x: Tensor) -> bool:
        """Whether, in grad mode, autograd would record operations on ``x`` or the weights."""
        return x.requires_grad or any(p.requires_grad for p in self.parameters())

    def features(self, x: Tensor) -> Tensor:
        """``phi(x)``, ``(N, features)``, with cuDNN off whenever a graph is recorded for a
        ``phi`` whose cuDNN kernels cannot be differentiated as score matching needs."""
        recording = torch.is_grad_enabled() and self._records_graph(x)
        guard = cudnn_disabled() if recording and not self.cudnn_double_backward else nullcontext()
        with guard:
            out: Tensor = self.phi(x)
        return out

    def potential(self, x: Tensor) -> Tensor:
        self.check_input(x)
        quadratic = 0.5 * (x - self.center).flatten(1).square().sum(dim=1)
        quadratic = quadratic * torch.exp(-2.0 * self.log_scale)
        return quadratic - F.softplus(self.experts(self.features(x))).sum(dim=1)

    def scores(self, x: Tensor) -> dict[str, Tensor]:
        """Both scores from one forward pass, when no caller needs a graph through them.

        The gradient norm needs the potential's graph anyway, so the potential is read off
        the same pass instead of being computed a second time (about a third less work).
        """
        if torch.is_grad_enabled() and self._records_graph(x):
            return super().scores(x)
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            potential = self.potential(leaf)
            (grad,) = torch.autograd.grad(potential.sum(), leaf)
        return {"potential": potential.detach(), "grad_norm": grad.flatten(1).norm(dim=1)}

    def reconstruct(self, x: Tensor, create_graph: bool = False) -> Tensor:
        """``r(x) = x - sigma^2 grad Psi(x)``, the denoised sample score matching trains.

        ``create_graph=True`` keeps it differentiable with respect to ``x`` and the weights.
        """
        return score_matching_reconstruction(
            self.potential, x, self.sigma, create_graph=create_graph
        )

    def reconstruction_field(self, x: Tensor, create_graph: bool = False) -> Tensor:
        """``r(x) - x = -sigma^2 grad Psi(x)``: a gradient field, so its Jacobian is symmetric."""
        return self.reconstruct(x, create_graph=create_graph) - x

    # -- training --------------------------------------------------------------------------------
    @torch.no_grad()
    def init_from_data(self, x: Tensor) -> None:
        """Start the quadratic term at the data's mean and overall standard deviation."""
        self.center.copy_(x.mean(dim=0))
        std = (x - x.mean(dim=0)).square().mean().sqrt().clamp_min(1e-3)
        self.log_scale.copy_(std.log())

    def score_matching_loss(self, batch: Tensor, generator: torch.Generator) -> Tensor:
        """Denoising score matching on one mini-batch of clean samples."""
        return denoising_score_matching_loss(
            self.potential, batch, self.sigma, generator, cudnn=self.cudnn_double_backward
        )

    def _fit(self, x: Tensor, progress: bool) -> None:
        self.check_input(x)
        if not self.is_fitted:  # a refit continues from the fitted state
            self.init_from_data(x)
        self.history_ = fit_minibatch(
            self,
            x,
            self.score_matching_loss,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            progress=progress,
            desc=f"fit {type(self).__name__}",
            name=self.label(),
        )

    def extra_repr(self) -> str:
        return f"shape={self.shape}, experts={self.experts_count}, sigma={self.sigma}"
