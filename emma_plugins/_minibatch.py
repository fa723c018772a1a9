"""One epoch of seeded, shuffled mini-batch steps: the loop estimators and networks share.

`emma_plugins.estimators.training.fit_minibatch` (stage 1, an estimator on clean samples)
and `emma_plugins.training.loop.fit` (stage 2, EMMA + MMN end to end) both run their epochs
through `train_epoch`, so the same seed gives the same batch order in both, and both train
across processes the same way: inside `parallel(group)`, each process takes its shard of
every global batch and the gradients are averaged over the processes before each step
(`emma_plugins.training.distributed`). A leaf module: it imports nothing from the package.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol

import torch
from torch import Tensor


class Parallel(Protocol):
    """How the processes of one training share its work (one process: no `Parallel`)."""

    def shard(self, index: Tensor) -> Tensor:
        """This process's share of a global batch's indices."""

    def sync_gradients(self, parameters: list[Tensor], n_local: int) -> None:
        """Make every process's gradients the mean over the global batch (from each
        process's mean over its ``n_local`` samples)."""

    def total(self, value: float, n: int) -> tuple[float, int]:
        """The sum of ``value`` and of ``n`` over the processes."""


_PARALLEL: ContextVar[Parallel | None] = ContextVar("emma_parallel", default=None)


def current_parallel() -> Parallel | None:
    """The `Parallel` the current training runs under, if any."""
    return _PARALLEL.get()


@contextlib.contextmanager
def parallel(group: Parallel | None) -> Iterator[None]:
    """Run the block's training epochs across the processes of ``group``."""
    token = _PARALLEL.set(group)
    try:
        yield
    finally:
        _PARALLEL.reset(token)


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


def epoch_batches(
    n: int, batch_size: int, generator: torch.Generator, device: torch.device | None = None
) -> tuple[Tensor, ...]:
    """One epoch's index batches: `shuffled_batches`, and under `parallel` this process's
    shard of each global batch."""
    batches = shuffled_batches(n, batch_size, generator, device)
    group = current_parallel()
    if group is not None:
        batches = tuple(group.shard(index) for index in batches)
    return batches


def train_epoch(
    optimizer: torch.optim.Optimizer,
    n: int,
    batch_size: int,
    generator: torch.Generator,
    batch_loss: Callable[[Tensor], Tensor],
    *,
    device: torch.device | None = None,
    after_step: Callable[[], None] | None = None,
    scaler: Any = None,
) -> float:
    """One pass over ``n`` in-memory samples in shuffled mini-batches (`run_epoch` over
    index batches); returns the mean loss per sample.

    ``batch_loss(index)`` returns the loss of the samples at ``index``. Under `parallel`,
    each process gets its shard of every global batch.
    """
    batches = epoch_batches(n, batch_size, generator, device)
    return run_epoch(
        optimizer,
        batches,
        batch_loss,
        size=len,
        after_step=after_step,
        scaler=scaler,
        n_batches=len(batches),
    )


def run_epoch(
    optimizer: torch.optim.Optimizer,
    batches: Iterable[Any],
    batch_loss: Callable[[Any], Tensor],
    *,
    size: Callable[[Any], int],
    after_step: Callable[[], None] | None = None,
    scaler: Any = None,
    n_batches: int | None = None,
) -> float:
    """One pass over ``batches`` (index tensors of in-memory data, or a DataLoader's
    batches): the one training loop, whatever the batch source.

    ``batch_loss(batch)`` returns the mean loss of the batch's ``size(batch)`` samples; the
    optimizer then takes one step and ``after_step()`` runs (to project constraints, say).
    A ``scaler`` (`torch.amp.GradScaler`) scales the loss for float16 training. Returns
    the mean loss per sample (over every process, under `parallel`).

    A NaN or infinite loss raises `NonFiniteLoss` before its backward pass and step, so
    a diverging model never trains on, nor keeps, non-finite values. The check reads the
    loss value that the mean needs anyway: no extra synchronisation.
    """
    group = current_parallel()
    parameters = [p for g in optimizer.param_groups for p in g["params"] if p.requires_grad]
    total, count = 0.0, 0
    for number, batch in enumerate(batches, start=1):
        n_local = size(batch)
        optimizer.zero_grad(set_to_none=True)
        value = 0.0
        if n_local:
            loss = batch_loss(batch)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise NonFiniteLoss(value, number, n_batches or number)
            (scaler.scale(loss) if scaler is not None else loss).backward()
        if group is not None:
            group.sync_gradients(parameters, n_local)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        if after_step is not None:
            after_step()
        total += value * n_local
        count += n_local
    if group is not None:
        total, count = group.total(total, count)
    return total / max(count, 1)
