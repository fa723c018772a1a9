"""EMMA stage 2 for K members at once: one ``torch.vmap`` over the whole model per batch,
with each member's coldness, regularizer weights and annealing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.attention.module import EnergyAttention
from emma_plugins.training.annealing import ColdnessAnnealing
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loop import (
    FitConfig,
    FitResult,
    LossFn,
    check_lr,
    checked_val_loss,
    evaluate_loss,
)
from emma_plugins.training.selection import BestState
from emma_plugins.training.stacked.adam import StackedAdam
from emma_plugins.training.stacked.members import (
    check_members,
    epochs,
    finish_members,
    nonfinite,
)
from emma_plugins.training.stacked.networks import member_losses


def fit_stacked_emma(
    models: Sequence[nn.Module],
    train: TensorSplit,
    val: TensorSplit,
    loss_fn: LossFn,
    configs: Sequence[FitConfig],
) -> list[FitResult]:
    """Train K `EmmaModel` s *with* attention at once (stage 2), as K `loop.fit` calls would.

    The members share one architecture (`can_stack`: every stage kind and estimator
    stackable) and ``train`` / ``val``; their fitted, frozen estimators, the coldness ρ and
    every other parameter or buffer are each member's own. Each `FitConfig` gives the
    member's seed, lr, epochs, patience, desc, ``lambda_c``, ``lambda_e`` and
    ``annealing`` (a `ColdnessAnnealing` of its own, stepped after each of the member's
    epochs as `loop.fit` does, the ``rho`` column included); the batch size is shared.

    One `torch.vmap` over `torch.func.functional_call` of the whole model gives every
    member's logits, capacity penalty and energy regularizer on its ``[B, ...]`` slice of
    the ``[K, B, ...]`` batch; the objective adds them with ``[K]`` tensors of λ_c and λ_e.
    After each `StackedAdam` step every member's ``constrain_()`` runs on its own slice of
    the stacked parameters (vmapped too). Best states are written back, eval mode.
    """
    from torch.func import functional_call, vmap

    from emma_plugins.training.loop import _set_coldness

    models, configs = list(models), list(configs)
    check_members(models, configs, train, attention=True)
    for config in configs:
        check_lr(config)
    emmas = [cast(EmmaModel, m) for m in models]
    k_all, device = len(emmas), train.y.device
    bests = [BestState(patience=c.patience) for c in configs]
    results = [FitResult() for _ in configs]
    for k, model in enumerate(emmas):  # loop.fit's start (calibrates the attention too)
        if configs[k].annealing is not None:
            _set_coldness(model, cast(ColdnessAnnealing, configs[k].annealing).rho)
        initial = checked_val_loss(evaluate_loss(model, val, loss_fn), configs[k], epoch=0)
        bests[k].update(model, initial, epoch=0)

    template = _EmmaObjective(emmas[0])
    names = [n for n, p in template.named_parameters() if p.requires_grad]
    if not names:
        raise ValueError("these models have no trainable parameters (requires_grad).")
    members = [_EmmaObjective(m) for m in emmas]
    states = [dict(m.named_parameters()) | dict(m.named_buffers()) for m in members]
    fixed_names = [n for n in states[0] if n not in names]
    params = {n: torch.stack([s[n].detach() for s in states]).requires_grad_() for n in names}
    fixed = {n: torch.stack([s[n].detach() for s in states]) for n in fixed_names}
    buffers = {n for n, _ in template.named_buffers()}
    changing = [n for n in states[0] if n in names or n in buffers]  # frozen estimators: not
    optimizer = StackedAdam(params, torch.tensor([c.lr for c in configs], device=device))
    dtype = next(iter(params.values())).dtype
    lambda_c = torch.tensor([c.lambda_c for c in configs], dtype=torch.float32, device=device)
    lambda_e = torch.tensor([c.lambda_e for c in configs], dtype=torch.float32, device=device)

    def member_forward(
        state: dict[str, Tensor], xs: list[Tensor], missing: Tensor, xi: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        return cast(
            tuple[Tensor, Tensor, Tensor], functional_call(template, state, (xs, missing, xi))
        )

    def member_constrain(state: dict[str, Tensor]) -> Tensor:
        return cast(Tensor, functional_call(_Constrain(template.model), state, ()))

    forward = vmap(member_forward, randomness="error")
    constrain = vmap(member_constrain, randomness="error")
    stacked_loss = member_losses(loss_fn)
    modes = [mode.to(dtype=dtype) for mode in train.modes]
    generators = [torch.Generator().manual_seed(c.seed) for c in configs]
    # the coldness lives in the importance stage (a buffer, or a parameter when learnable)
    importance = [n for n in states[0] if n.startswith("model.attention.importance.")]

    active = list(range(k_all))
    n, batch_size = len(train), configs[0].batch_size
    for epoch in epochs(configs):
        still = [k for k in active if epoch <= configs[k].epochs and not bests[k].should_stop]
        if not still:
            break
        if still != active:
            rows = torch.tensor([active.index(k) for k in still], device=device)
            optimizer.keep(rows)
            fixed = {name: value[rows] for name, value in fixed.items()}
            lambda_c, lambda_e = lambda_c[rows], lambda_e[rows]
            active = still
        for k in active:  # loop.fit: train mode, the frozen estimators in eval mode
            emmas[k].train()
            cast(EnergyAttention, emmas[k].attention).estimators.eval()
        template.train()
        cast(EnergyAttention, template.model.attention).estimators.eval()
        perms = torch.stack([torch.randperm(n, generator=generators[k]) for k in active])
        perms = perms.to(device)
        totals = [0.0] * len(active)
        starts = range(0, n, batch_size)
        for number, start in enumerate(starts, start=1):
            index = perms[:, start : start + batch_size]  # [K, B], a view
            xs = [mode[index] for mode in modes]  # gathers from the one shared tensor
            state = {**optimizer.params, **fixed}
            logits, capacity, energy = forward(state, xs, train.missing[index], train.xi[index])
            task = stacked_loss(logits, train.y[index]).float()
            losses = task + lambda_c * capacity.float() + lambda_e * energy.float()
            values = losses.detach().tolist()
            for i, value in enumerate(values):
                if not math.isfinite(value):
                    nonfinite(configs[active[i]], value, epoch, number, len(starts))
            grads = torch.autograd.grad(losses.sum(), list(optimizer.params.values()))
            optimizer.step(dict(zip(optimizer.params, grads, strict=True)))
            with torch.no_grad():
                constrain({**optimizer.params, **fixed})
            size = index.shape[1]
            totals = [t + v * size for t, v in zip(totals, values, strict=True)]
        with torch.no_grad():  # the trained parameters (and buffers) back into the modules
            stacked = {**optimizer.params, **fixed}
            for i, k in enumerate(active):
                for name in changing:
                    states[k][name].copy_(stacked[name][i])
        for i, k in enumerate(active):
            config = configs[k]
            val_loss = checked_val_loss(evaluate_loss(emmas[k], val, loss_fn), config, epoch=epoch)
            improved = bests[k].update(emmas[k], val_loss, epoch)
            row = {"epoch": float(epoch), "train_loss": totals[i] / max(n, 1), "val_loss": val_loss}
            annealing = config.annealing
            if annealing is not None:
                row["rho"] = annealing.rho
                _set_coldness(emmas[k], annealing.step(improved))
                with torch.no_grad():
                    for name in importance:
                        target = optimizer.params if name in names else fixed
                        target[name][i].copy_(states[k][name])
            results[k].history.append(row)

    return finish_members(emmas, results, bests, configs)


class _EmmaObjective(nn.Module):
    """One member's forward for the stacked trainer: logits, the capacity penalty and the
    energy regularizer (what `loop.objective` adds, before the λ weights)."""

    def __init__(self, model: EmmaModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, xs: list[Tensor], missing: Tensor, xi: Tensor) -> tuple[Tensor, ...]:
        from emma_plugins.attention import capacity_penalty, energy_regularizer

        out = self.model(xs, missing)
        attention = cast(EnergyAttention, self.model.attention)
        return out.output, capacity_penalty(attention), energy_regularizer(out.report, xi)


class _Constrain(nn.Module):
    """``constrain_()`` of one member's attention stages, as a forward (for vmap)."""

    def __init__(self, model: EmmaModel) -> None:
        super().__init__()
        self.model = model

    def forward(self) -> Tensor:
        cast(EnergyAttention, self.model.attention).constrain_()
        return torch.zeros(())


__all__ = ["fit_stacked_emma"]
