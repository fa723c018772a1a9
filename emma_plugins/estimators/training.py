"""A small, seeded mini-batch loop shared by estimators that train on a loss of clean samples."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from emma_plugins._minibatch import NonFiniteLoss, train_epoch
from emma_plugins.core.errors import TrainingError


def fit_minibatch(
    module: nn.Module,
    x: Tensor,
    loss_fn: Callable[[Tensor, torch.Generator], Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool,
    desc: str,
    name: str | None = None,
) -> list[float]:
    """Adam over shuffled mini-batches; returns the mean loss of each epoch.

    ``loss_fn(batch, generator)`` gets a generator so that the noise it draws is seeded too.
    The epochs run through the same `emma_plugins._minibatch.train_epoch` as the network
    training loop. A NaN or infinite loss stops the fit with a `TrainingError` that names
    ``name`` (the estimator and its parameters; ``desc`` when not given), the epoch and the
    batch.
    """
    from tqdm.auto import tqdm

    if not (math.isfinite(lr) and lr >= 0):
        raise TrainingError(
            f"{name or desc} cannot fit with lr={lr}: the learning rate must be a finite "
            "number >= 0.",
            desc=desc,
            epoch=0,
        )
    generator = torch.Generator(device="cpu").manual_seed(seed)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    history: list[float] = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        try:
            loss = train_epoch(
                optimizer,
                len(x),
                batch_size,
                generator,
                lambda index: loss_fn(x[index], generator),
                device=x.device,
            )
        except NonFiniteLoss as err:
            raise TrainingError(
                f"{name or desc} produced non-finite values while fitting: its training loss "
                f"is {err.value} at epoch {epoch + 1}, batch {err.batch} of {err.n_batches} "
                f"(lr={lr}). The fit diverged: lower the learning rate or the noise, or check "
                "the training data for NaN or infinite values.",
                desc=desc,
                epoch=epoch + 1,
                batch=err.batch,
            ) from err
        history.append(loss)
        bar.set_postfix(loss=f"{history[-1]:.4g}")
    return history
