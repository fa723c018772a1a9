"""K bare networks (early fusion, noise augmentation) trained at once: batched matmuls for
the ``mlp`` kind, ``torch.vmap`` for other stackable kinds."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.networks.layers import ACTIVATIONS
from emma_plugins.networks.mlp import MLP
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loop import (
    FitConfig,
    FitResult,
    LossFn,
    check_lr,
    checked_val_loss,
    evaluate_loss,
)
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.selection import BestState
from emma_plugins.training.stacked.adam import StackedAdam
from emma_plugins.training.stacked.members import (
    check_members,
    epochs,
    finish_members,
    nonfinite,
    zero_rows,
)

StackedForward = Callable[[dict[str, Tensor], list[Tensor]], Tensor]
#: A stacked task loss: logits ``[K, B, out]`` and targets ``[K, B]`` to losses ``[K]``.
StackedLoss = Callable[[Tensor, Tensor], Tensor]


def fit_stacked_networks(
    models: Sequence[nn.Module],
    train: TensorSplit,
    val: TensorSplit,
    loss_fn: LossFn,
    configs: Sequence[FitConfig],
) -> list[FitResult]:
    """Train the K ``models`` at once, as K `loop.fit` calls with ``configs`` would.

    ``models`` are `EmmaModel` s without attention whose network kind is stackable, with one
    architecture (`can_stack`); ``configs`` give each member its seed (batch order), lr,
    epochs, patience and desc, and share one ``batch_size``. Annealing, mixed precision
    and λ_c / λ_e (stage 2) are refused. ``train`` and ``val`` are shared by all members.

    Each member's best validation state is written back into its module, which is left in
    eval mode; the `FitResult` s are in the order of ``models``. Raises `TrainingError` as
    `loop.fit` does (an unusable lr, a non-finite loss), naming the member's ``desc``.
    """
    models, configs = list(models), list(configs)
    check_members(models, configs, train, attention=False)
    for config in configs:
        check_lr(config)
    k_all = len(models)
    device = train.y.device
    networks = [cast(EmmaModel, m).network for m in models]
    names = [n for n, p in networks[0].named_parameters() if p.requires_grad]
    if not names:
        raise ValueError("these models have no trainable parameters (requires_grad).")
    frozen = {
        n: torch.stack([dict(net.named_parameters())[n].detach() for net in networks])
        for n, p in networks[0].named_parameters()
        if not p.requires_grad
    }
    member_params = [[dict(net.named_parameters())[n] for n in names] for net in networks]
    params = {
        n: torch.stack([member_params[k][i].detach() for k in range(k_all)]).requires_grad_()
        for i, n in enumerate(names)
    }
    optimizer = StackedAdam(params, torch.tensor([c.lr for c in configs], device=device))
    forward = _stacked_forward(networks[0])
    stacked_loss = member_losses(loss_fn)
    dtype = next(iter(params.values())).dtype
    modes = [mode.to(dtype=dtype) for mode in train.modes]  # a no-op when already so
    any_missing = bool(train.missing.any())
    generators = [torch.Generator().manual_seed(c.seed) for c in configs]
    bests = [BestState(patience=c.patience) for c in configs]
    results = [FitResult() for _ in configs]

    for k, model in enumerate(models):
        initial = checked_val_loss(evaluate_loss(model, val, loss_fn), configs[k], epoch=0)
        bests[k].update(model, initial, epoch=0)

    active = list(range(k_all))
    n, batch_size = len(train), configs[0].batch_size
    for epoch in epochs(configs):
        still = [k for k in active if epoch <= configs[k].epochs and not bests[k].should_stop]
        if not still:
            break
        if still != active:
            optimizer.keep(torch.tensor([active.index(k) for k in still]))
            frozen = {
                name: value[[active.index(k) for k in still]] for name, value in frozen.items()
            }
            active = still
        for k in active:
            models[k].train()
        perms = torch.stack([torch.randperm(n, generator=generators[k]) for k in active])
        perms = perms.to(device)
        totals = [0.0] * len(active)
        starts = range(0, n, batch_size)
        for number, start in enumerate(starts, start=1):
            index = perms[:, start : start + batch_size]  # [K, B], a view
            xs = [mode[index] for mode in modes]  # gathers from the one shared tensor
            if any_missing:
                missing = train.missing[index].to(torch.bool)
                xs = [zero_rows(x, missing[..., i]) for i, x in enumerate(xs)]
            logits = forward({**optimizer.params, **frozen}, xs)
            losses = stacked_loss(logits, train.y[index]).float()
            values = losses.detach().tolist()
            for i, value in enumerate(values):
                if not math.isfinite(value):
                    nonfinite(configs[active[i]], value, epoch, number, len(starts))
            grads = torch.autograd.grad(losses.sum(), list(optimizer.params.values()))
            optimizer.step(dict(zip(optimizer.params, grads, strict=True)))
            size = index.shape[1]
            totals = [t + v * size for t, v in zip(totals, values, strict=True)]
        with torch.no_grad():
            for i, k in enumerate(active):
                for name, target in zip(names, member_params[k], strict=True):
                    target.copy_(optimizer.params[name][i])
        for i, k in enumerate(active):
            val_loss = checked_val_loss(
                evaluate_loss(models[k], val, loss_fn), configs[k], epoch=epoch
            )
            bests[k].update(models[k], val_loss, epoch)
            row = {"epoch": float(epoch), "train_loss": totals[i] / max(n, 1), "val_loss": val_loss}
            results[k].history.append(row)

    return finish_members(models, results, bests, configs)


# -- EMMA stage 2 -----------------------------------------------------------------------------


def _stacked_forward(network: nn.Module) -> StackedForward:
    """The stacked forward of ``network``'s kind: batched matmuls for the mlp, else vmap."""
    plan = _mlp_plan(network)
    if plan is not None:
        reads = cast(MLP, network).reads

        def mlp_forward(params: dict[str, Tensor], xs: list[Tensor]) -> Tensor:
            h = torch.cat([xs[i].flatten(2) for i in reads], dim=-1)
            for step in plan:
                if isinstance(step, str):
                    weight, bias = params[f"{step}.weight"], params.get(f"{step}.bias")
                    if bias is None:
                        h = torch.bmm(h, weight.transpose(1, 2))
                    else:
                        h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
                else:
                    h = step(h)
            return h

        return mlp_forward
    from torch.func import functional_call, vmap

    def member(params: dict[str, Tensor], *xs: Tensor) -> Tensor:
        return cast(Tensor, functional_call(network, params, (list(xs),)))

    batched = vmap(member)

    def vmap_forward(params: dict[str, Tensor], xs: list[Tensor]) -> Tensor:
        return cast(Tensor, batched(params, *xs))

    return vmap_forward


def _mlp_plan(network: nn.Module) -> list[str | nn.Module] | None:
    """The mlp's layers as steps (a Linear's name, or an elementwise activation module)."""
    if not isinstance(network, MLP) or type(network).forward is not MLP.forward:
        return None
    elementwise = tuple(ACTIVATIONS.values())
    plan: list[str | nn.Module] = []
    for name, layer in network.layers.named_children():
        if isinstance(layer, nn.Linear) and type(layer).forward is nn.Linear.forward:
            plan.append(f"layers.{name}")
        elif isinstance(layer, elementwise):
            plan.append(layer)
        elif isinstance(layer, nn.Dropout | nn.Identity):
            continue  # p == 0 (checked by can_stack): the identity
        else:
            return None
    return plan


def member_losses(loss_fn: LossFn) -> StackedLoss:
    """``loss_fn`` per member: written out for `ClassificationLoss`, else vmapped (or,
    when ``loss_fn`` cannot run under vmap, called once per member)."""
    if isinstance(loss_fn, ClassificationLoss):
        return _classification(loss_fn)
    from torch.func import vmap

    batched = vmap(loss_fn)
    use_vmap = [True]

    def loss(logits: Tensor, y: Tensor) -> Tensor:
        if use_vmap[0]:
            try:
                return cast(Tensor, batched(logits, y))
            except Exception:  # a data-dependent branch, say: one call per member instead
                use_vmap[0] = False
        return torch.stack([loss_fn(out, target) for out, target in zip(logits, y, strict=True)])

    return loss


def _classification(loss_fn: ClassificationLoss) -> StackedLoss:
    def loss(logits: Tensor, y: Tensor) -> Tensor:
        weights = loss_fn.weights.to(logits.device) if loss_fn.weights is not None else None
        if loss_fn.n_classes == 2 and logits.shape[-1] == 1:
            per_sample = F.binary_cross_entropy_with_logits(
                logits.squeeze(-1), y.to(logits.dtype), reduction="none"
            )
        else:
            per_sample = F.cross_entropy(
                logits.transpose(1, 2), y.long(), weight=weights, reduction="none"
            )
            if weights is None:
                return per_sample.mean(dim=1)
            return per_sample.sum(dim=1) / weights[y.long()].sum(dim=1)
        if weights is not None:
            w = weights[y.long()]
            return (per_sample * w).sum(dim=1) / w.sum(dim=1)
        return per_sample.mean(dim=1)

    return loss


# -- estimators -------------------------------------------------------------------------------


__all__ = ["StackedForward", "StackedLoss", "fit_stacked_networks"]
