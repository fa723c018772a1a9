"""K tied denoising autoencoders fitted at once, each with its own batch order and noise."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

from emma_plugins.core.errors import TrainingError
from emma_plugins.estimators.base import as_tensor
from emma_plugins.estimators.dae import TiedDAE
from emma_plugins.training.stacked.adam import StackedAdam
from emma_plugins.training.stacked.members import can_stack, kind_stacks, signature


def fit_stacked_estimators(
    estimators: Sequence[TiedDAE], x: Any, *, progress: bool = False
) -> list[TiedDAE]:
    """Fit K `TiedDAE` s at once on the same clean samples ``x``, then calibrate each.

    The same as ``[e.fit(x) for e in estimators]``: each member's own generator (its
    ``seed``) draws, in `emma_plugins.estimators.training.fit_minibatch`'s order, one
    permutation per epoch and then the Gaussian noise of each batch; each has its own
    ``sigma``, ``lr`` and ``epochs`` (``batch_size``, ``shape`` and ``hidden`` are shared).
    Sets each one's ``history_`` and leaves it in eval mode. Returns ``estimators``.
    """
    estimators = list(estimators)
    if not estimators or not can_stack(estimators):
        raise ValueError(
            "these estimators cannot train stacked: each must be a TiedDAE (stackable) and "
            "all must share shape and hidden size. Use fit_all_estimators, which falls back."
        )
    if len({e.batch_size for e in estimators}) > 1:
        raise ValueError(
            "stacked estimators share one batch size; got "
            f"{sorted({e.batch_size for e in estimators})} (fit_all_estimators groups them)."
        )
    for e in estimators:
        if not (math.isfinite(e.lr) and e.lr >= 0):
            raise TrainingError(
                f"{e.label()} cannot fit with lr={e.lr}: the learning rate must be a finite "
                "number >= 0.",
                desc="fit dae",
                epoch=0,
            )
    first = estimators[0]
    device = first._device()
    data = as_tensor(x).to(device)
    flat = data.reshape(len(data), first.in_features)  # a view: the one shared copy
    names = [n for n, _ in first.named_parameters()]
    params = {
        n: torch.stack([dict(e.named_parameters())[n].detach() for e in estimators])
        .to(device)
        .requires_grad_()
        for n in names
    }
    optimizer = StackedAdam(params, torch.tensor([e.lr for e in estimators], device=device))
    sigma = torch.tensor([e.sigma for e in estimators], dtype=flat.dtype, device=device)
    generators = [torch.Generator(device="cpu").manual_seed(e.seed) for e in estimators]
    histories: list[list[float]] = [[] for _ in estimators]
    n, batch_size = len(flat), first.batch_size
    active = list(range(len(estimators)))
    from tqdm.auto import tqdm

    last = max(e.epochs for e in estimators)
    for epoch in tqdm(range(1, last + 1), desc="fit dae (stacked)", disable=not progress):
        still = [k for k in active if epoch <= estimators[k].epochs]
        if not still:
            break
        if still != active:
            rows = torch.tensor([active.index(k) for k in still])
            optimizer.keep(rows)
            sigma = sigma[rows.to(device)]
            active = still
        perms = torch.stack([torch.randperm(n, generator=generators[k]) for k in active])
        perms = perms.to(device)
        totals = [0.0] * len(active)
        starts = range(0, n, batch_size)
        for number, start in enumerate(starts, start=1):
            index = perms[:, start : start + batch_size]
            batch = flat[index]  # [K, B, F] gathered from the one shared tensor
            noise = torch.stack(
                [
                    torch.randn((index.shape[1], *first.shape), generator=generators[k])
                    for k in active
                ]
            ).to(device)
            noisy = batch + sigma.view(-1, 1, 1) * noise.reshape(batch.shape)
            p = optimizer.params
            hidden = torch.sigmoid(
                torch.baddbmm(p["hidden_bias"].unsqueeze(1), noisy, p["weight"].transpose(1, 2))
            )
            restored = torch.bmm(hidden, p["weight"]) + p["output_bias"].unsqueeze(1)
            losses = (restored - batch).square().sum(dim=2).mean(dim=1)
            values = losses.detach().tolist()
            for i, value in enumerate(values):
                if not math.isfinite(value):
                    e = estimators[active[i]]
                    raise TrainingError(
                        f"{e.label()} produced non-finite values while fitting: its training "
                        f"loss is {value} at epoch {epoch}, batch {number} of {len(starts)} "
                        f"(lr={e.lr}). The fit diverged: lower the learning rate or the "
                        "noise, or check the training data for NaN or infinite values.",
                        desc="fit dae",
                        epoch=epoch,
                        batch=number,
                    )
            grads = torch.autograd.grad(losses.sum(), list(p.values()))
            optimizer.step(dict(zip(p, grads, strict=True)))
            totals = [t + v * index.shape[1] for t, v in zip(totals, values, strict=True)]
        with torch.no_grad():
            for i, k in enumerate(active):
                histories[k].append(totals[i] / max(n, 1))
                for name, target in estimators[k].named_parameters():
                    target.copy_(optimizer.params[name][i])
    for estimator, history in zip(estimators, histories, strict=True):
        estimator.history_ = history
        estimator.eval()
        estimator.calibrate(data)
    return estimators


def fit_all_estimators(
    estimators: Sequence[nn.Module], x: Any, *, stack: bool = True, progress: bool = False
) -> list[nn.Module]:
    """Fit every estimator on ``x``: stackable ones (`can_stack`) grouped by shape, hidden
    size and batch size and fitted with `fit_stacked_estimators`, the rest with their own
    ``fit`` (all of them so when ``stack=False``). Returns ``estimators``."""
    estimators = list(estimators)
    groups: dict[tuple[Any, ...], list[int]] = {}
    alone: list[int] = []
    for k, e in enumerate(estimators):
        if stack and kind_stacks(e):
            groups.setdefault((signature(e), cast(TiedDAE, e).batch_size), []).append(k)
        else:
            alone.append(k)
    for members in groups.values():
        if len(members) == 1:
            alone.extend(members)
        else:
            fit_stacked_estimators(
                [cast(TiedDAE, estimators[k]) for k in members], x, progress=progress
            )
    for k in sorted(alone):
        cast(Any, estimators[k]).fit(x, progress=progress)
    return estimators


__all__ = ["fit_all_estimators", "fit_stacked_estimators"]
