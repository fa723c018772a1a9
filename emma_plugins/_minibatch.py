"""One epoch of seeded, shuffled mini-batch steps: the loop estimators and networks share.

`emma_plugins.estimators.training.fit_minibatch` (stage 1, an estimator on clean samples)
and `emma_plugins.training.loop.fit` (stage 2, EMMA + MMN end to end) both run their epochs
through `train_epoch`, so the same seed gives the same batch order in both. A leaf module:
it imports nothing from the package.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


class NonFiniteLoss(ArithmeticError):
    """A batch's loss was NaN or infinite; raised before that batch's step.

    ``batch`` is 1-based, out of ``n_batches``; callers turn it into a
    `emma_plugins.core.errors.TrainingError` that names what was training and the epoch.
    """

    def __init__(self, value: float, batch: int, n_batches: int) -> None:
        super().__init__(f"loss {value} at batch {batch} of {n_batches}")
        self.value, self.batch, self.n_batches = value, batch, n_batches


def shuffled_batches(
    n: int, batch_size: int, generator: torch.Generator, device: torch.device | None = None
) -> tuple[Tensor, ...]:
    """The indices ``0..n-1`` in the generator's random order, cut into ``batch_size`` pieces.

    The permutation is drawn on the CPU generator (one draw per call), then moved to
    ``device`` when one is given.
    """
    order = torch.randperm(n, generator=generator)
    if device is not None:
        order = order.to(device)
    return order.split(batch_size)


def train_epoch(
    optimizer: torch.optim.Optimizer,
    n: int,
    batch_size: int,
    generator: torch.Generator,
    batch_loss: Callable[[Tensor], Tensor],
    *,
    device: torch.device | None = None,
    after_step: Callable[[], None] | None = None,
) -> float:
    """One pass over ``n`` samples in shuffled mini-batches; returns the mean loss per sample.

    ``batch_loss(index)`` returns the loss of the samples at ``index``; the optimizer then
    takes one step and ``after_step()`` runs (to project constraints, say). The mean weighs
    each batch's loss by its size.

    A NaN or infinite loss raises `NonFiniteLoss` before its backward pass and step, so
    a diverging model never trains on, nor keeps, non-finite values. The check reads the
    loss value that the mean needs anyway: no extra synchronisation.
    """
    total = 0.0
    batches = shuffled_batches(n, batch_size, generator, device)
    for number, index in enumerate(batches, start=1):
        loss = batch_loss(index)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLoss(value, number, len(batches))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step()
        total += value * len(index)
    return total / max(n, 1)
