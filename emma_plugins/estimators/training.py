"""A small, seeded mini-batch loop shared by estimators that train on a loss of clean samples."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from emma_plugins._minibatch import train_epoch


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
) -> list[float]:
    """Adam over shuffled mini-batches; returns the mean loss of each epoch.

    ``loss_fn(batch, generator)`` gets a generator so that the noise it draws is seeded too.
    The epochs run through the same `emma_plugins._minibatch.train_epoch` as the network
    training loop.
    """
    from tqdm.auto import tqdm

    generator = torch.Generator(device="cpu").manual_seed(seed)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    history: list[float] = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        history.append(
            train_epoch(
                optimizer,
                len(x),
                batch_size,
                generator,
                lambda index: loss_fn(x[index], generator),
                device=x.device,
            )
        )
        bar.set_postfix(loss=f"{history[-1]:.4g}")
    return history
