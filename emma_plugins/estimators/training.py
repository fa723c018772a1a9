"""A small, seeded mini-batch loop shared by estimators that train on a loss of clean samples."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm


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
    """
    generator = torch.Generator(device="cpu").manual_seed(seed)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    history: list[float] = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        order = torch.randperm(len(x), generator=generator).to(x.device)
        total, count = 0.0, 0
        for index in order.split(batch_size):
            batch = x[index]
            loss = loss_fn(batch, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
            count += len(batch)
        history.append(total / max(count, 1))
        bar.set_postfix(loss=f"{history[-1]:.4g}")
    return history
