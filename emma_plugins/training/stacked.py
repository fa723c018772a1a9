"""Train K small models at once as one stacked model: the same result as K `loop.fit` runs.

The thesis' models are tiny (an 8-8-4-1 MLP, 4-12 tied denoising autoencoders), so training
them one at a time spends its time on Python overhead per mini-batch. Here K independent
*members* of one architecture become one batched computation: every parameter gets a
leading member dimension ``[K, ...]``, a mini-batch of all members is gathered as
``[K, B, ...]`` and one forward, one backward and one Adam step serve every member.

What stacks (`can_stack`):

* networks: an `EmmaModel` built with attention disabled (``model.attention is None``, the
  thing `emma_plugins.training.loop.fit` trains in the base and noise-augmentation stages)
  whose network kind declares ``stackable = True`` (the ``mlp`` kind does) and has no
  active dropout, no batch-norm style buffers and no ``training_loss`` / ``begin_fit``
  hooks. The ``mlp`` network runs as a chain of batched matmuls (``torch.baddbmm``); any
  other network kind that declares ``stackable`` runs through ``torch.func.vmap`` over
  ``torch.func.functional_call``. Bare networks are not accepted: `loop.fit` (the fallback
  and the reference) calls ``model(modes, missing).output``, which only `EmmaModel` has;
* estimators: `TiedDAE` (``stackable = True``), with the denoising loss of its ``_fit``;
* EMMA stage 2 (`fit_stacked_emma`): an `EmmaModel` with attention whose stage classes all
  declare ``stackable = True`` (``min_shift``, ``coupled``, ``self_only``, ``boltzmann``,
  ``shared_tanh``), whose estimators are stackable `TiedDAE` s, whose energy input is the
  potential and whose network stacks. One ``torch.vmap`` over ``functional_call`` of the
  whole model per batch, with each member's frozen estimators, buffers (the coldness ρ)
  and λ_c, λ_e; ``constrain_()`` vmapped after each step; annealing per member.

All K members share the architecture (`can_stack` of the list checks parameter names,
shapes, dtypes, modules and the mlp's ``reads``) and the data: ``train`` and ``val`` are
one `TensorSplit` each, never copied K times. Each epoch every member draws its own
permutation; a batch gathers ``x[perm[:, b]]`` from the one shared tensor into
``[K, B, ...]``, the only per-member copy being that batch.

Per-member hyper-parameters: each member has its own `FitConfig` (``seed``: its batch order;
``lr``; ``epochs``; ``patience``; ``desc``); the batch size is shared (`fit_networks` groups
members by it). The learning rates are a ``[K]`` tensor in the Adam step, and for the DAE
the noise scale ``sigma`` is a ``[K, 1, 1]`` tensor; each member's initialisation is
whatever its module holds. A member that stops (its patience ran out, or it reached its
epochs) leaves the stack at the end of that epoch, while the others go on.

Exactness: Adam is elementwise, so Adam over stacked parameters with per-member step sizes
is exactly K independent Adams. The step here is torch's own single-tensor Adam
(betas 0.9/0.999, eps 1e-8, bias correction, no weight decay), operation for operation,
so the only differences from sequential training are the rounding of batched against
single matmuls and reductions (``tests/training/test_training_stacked.py`` checks
parameters, histories and best epochs against `loop.fit` and `TiedDAE.fit`). The
validation loss of each member is `loop.evaluate_loss` on its own module, the same code as
`loop.fit`, and best-state tracking and early stopping are `BestState`, per member. One
difference: `loop.fit` seeds torch's global generator with ``config.seed``; stacked
training never touches the global generator (no stackable network draws from it).

Not stacked in this version: other attention stage kinds and estimators, the
``grad_norm`` energy input, annealing without attention, mixed precision, streamed splits
and training across processes. `fit_networks` and `fit_all_estimators` train whatever does not
stack one at a time (``stack=False`` forces that: what a ``--no-stack`` option maps to).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.attention.module import EnergyAttention
from emma_plugins.core.errors import TrainingError, TrainingWarning
from emma_plugins.estimators.base import as_tensor
from emma_plugins.estimators.dae import TiedDAE
from emma_plugins.networks.interfaces import HasTrainingLoss
from emma_plugins.networks.layers import ACTIVATIONS
from emma_plugins.networks.mlp import MLP
from emma_plugins.training.annealing import ColdnessAnnealing
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.distributed import current_group
from emma_plugins.training.loop import FitConfig, FitResult, LossFn, _checked, evaluate_loss, fit
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.selection import BestState

__all__ = [
    "StackedAdam",
    "can_stack",
    "fit_all_estimators",
    "fit_networks",
    "fit_stacked_emma",
    "fit_stacked_estimators",
    "fit_stacked_networks",
]

#: A stacked forward: parameters ``{name: [K, ...]}`` and per-mode ``[K, B, ...]`` inputs
#: to logits ``[K, B, out]``.
StackedForward = Callable[[dict[str, Tensor], list[Tensor]], Tensor]
#: A stacked task loss: logits ``[K, B, out]`` and targets ``[K, B]`` to losses ``[K]``.
StackedLoss = Callable[[Tensor, Tensor], Tensor]

_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


# -- what stacks ------------------------------------------------------------------------------
def can_stack(module: nn.Module | Sequence[nn.Module]) -> bool:
    """Whether ``module`` (or every module of a sequence, together) can train stacked.

    One module stacks when its kind declares ``stackable = True`` and it trains without
    randomness or per-sample state of its own: an `EmmaModel` without attention whose
    network declares it (no active dropout, no buffers, no ``training_loss`` or
    ``begin_fit``), or a `TiedDAE`. A sequence stacks when each module does and all share
    one architecture: the same classes, modules, parameter names, shapes, dtypes, devices
    and ``requires_grad``, and the same mode ``reads`` for an mlp.
    """
    modules = [module] if isinstance(module, nn.Module) else list(module)
    if not modules or not all(_stackable(m) for m in modules):
        return False
    first = _signature(modules[0])
    return all(_signature(m) == first for m in modules[1:])


def _stackable(module: nn.Module) -> bool:
    if isinstance(module, TiedDAE):
        kind = type(module)
        return (
            bool(getattr(kind, "stackable", False))
            and kind._fit is TiedDAE._fit
            and kind.reconstruct is TiedDAE.reconstruct
            and kind.encode is TiedDAE.encode
        )
    if not isinstance(module, EmmaModel):
        return False
    if module.attention is not None and not _attention_stackable(module.attention):
        return False
    network = module.network
    if not getattr(type(network), "stackable", False):
        return False
    if isinstance(network, HasTrainingLoss) or callable(getattr(network, "begin_fit", None)):
        return False
    if any(True for _ in network.buffers()):
        return False
    dropouts = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
    return not any(isinstance(m, dropouts) and m.p > 0 for m in network.modules())


def _attention_stackable(attention: EnergyAttention) -> bool:
    """EMMA stacks when every stage's own class declares ``stackable = True`` (it runs
    under ``torch.vmap``, its ``constrain_`` too), every estimator is a stackable `TiedDAE`
    with its own ``potential``, and the energy input is the potential (``grad_norm`` takes
    a gradient inside the forward, which the stacked trainer does not batch)."""
    if attention.energy_input != "potential":
        return False
    for _, stage in attention.stages():
        if not vars(type(stage)).get("stackable", False):
            return False
    return all(
        _stackable(e) and getattr(type(e), "potential", None) is TiedDAE.potential
        for e in attention.estimators
    )


#: Python settings of modules that change what a forward computes (the architecture).
_SETTINGS = ("energy_input", "apply_to", "min_gain", "n_modes")


def _signature(module: nn.Module) -> tuple[Any, ...]:
    """The architecture: classes, submodules (with their settings: a Linear's sizes, an
    activation's slope, the mlp's ``reads``) and parameters. Not the root's own settings,
    which for a `TiedDAE` include its per-member ``sigma``."""
    return (
        type(module),
        tuple(
            (
                name,
                type(m).__name__,
                m.extra_repr() if name else "",
                tuple(getattr(m, "reads", ()) or ()),
                tuple((a, getattr(m, a)) for a in _SETTINGS if hasattr(m, a)),
            )
            for name, m in module.named_modules()
        ),
        tuple((name, tuple(b.shape), b.dtype, b.device) for name, b in module.named_buffers()),
        tuple(
            (name, tuple(p.shape), p.dtype, p.device, p.requires_grad)
            for name, p in module.named_parameters()
        ),
    )


# -- Adam over stacked parameters ------------------------------------------------------------
class StackedAdam:
    """K independent Adams over parameters with a leading member dimension.

    torch's single-tensor Adam (``torch.optim.Adam``, no weight decay, no amsgrad) step for
    step, with a ``[K]`` tensor of learning rates: ``lr_k / (1 - beta1^t)`` is formed in
    float64 and rounded to the parameters' dtype, as torch rounds its Python-float step
    size. Every member in the stack has taken the same number of steps ``t`` (a member
    leaves the stack when it stops), so the bias corrections are shared.
    """

    def __init__(self, params: dict[str, Tensor], lr: Tensor) -> None:
        self.params = params
        self.lr = lr.to(dtype=torch.float64)
        self.exp_avg = {n: torch.zeros_like(p) for n, p in params.items()}
        self.exp_avg_sq = {n: torch.zeros_like(p) for n, p in params.items()}
        self.steps = 0

    @torch.no_grad()
    def step(self, grads: dict[str, Tensor]) -> None:
        self.steps += 1
        bias_correction1 = 1 - _BETA1**self.steps
        bias_correction2_sqrt = (1 - _BETA2**self.steps) ** 0.5
        neg_step = -(self.lr / bias_correction1)
        for name, param in self.params.items():
            grad = grads[name]
            exp_avg, exp_avg_sq = self.exp_avg[name], self.exp_avg_sq[name]
            exp_avg.lerp_(grad, 1 - _BETA1)
            exp_avg_sq.mul_(_BETA2).addcmul_(grad, grad, value=1 - _BETA2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(_EPS)
            scale = neg_step.to(param.dtype).reshape(-1, *([1] * (param.dim() - 1)))
            # torch: param.addcdiv_(exp_avg, denom, value=-step_size) = param + (v * t1) / t2
            param.addcdiv_(scale * exp_avg, denom)

    def keep(self, rows: Tensor) -> None:
        """Keep only the members at ``rows`` (the others stopped)."""
        self.lr = self.lr[rows.to(self.lr.device)]
        for state in (self.params, self.exp_avg, self.exp_avg_sq):
            for name, value in state.items():
                kept = value.detach()[rows.to(value.device)]
                state[name] = kept.requires_grad_(value.requires_grad)


# -- networks ---------------------------------------------------------------------------------
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
    _check_members(models, configs, train, attention=False)
    for config in configs:
        _check_lr(config)
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
    stacked_loss = _stacked_loss(loss_fn)
    dtype = next(iter(params.values())).dtype
    modes = [mode.to(dtype=dtype) for mode in train.modes]  # a no-op when already so
    any_missing = bool(train.missing.any())
    generators = [torch.Generator().manual_seed(c.seed) for c in configs]
    bests = [BestState(patience=c.patience) for c in configs]
    results = [FitResult() for _ in configs]

    for k, model in enumerate(models):
        initial = _checked(evaluate_loss(model, val, loss_fn), configs[k], epoch=0)
        bests[k].update(model, initial, epoch=0)

    active = list(range(k_all))
    n, batch_size = len(train), configs[0].batch_size
    for epoch in _epochs(configs):
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
                xs = [_zero_rows(x, missing[..., i]) for i, x in enumerate(xs)]
            logits = forward({**optimizer.params, **frozen}, xs)
            losses = stacked_loss(logits, train.y[index]).float()
            values = losses.detach().tolist()
            for i, value in enumerate(values):
                if not math.isfinite(value):
                    _nonfinite(configs[active[i]], value, epoch, number, len(starts))
            grads = torch.autograd.grad(losses.sum(), list(optimizer.params.values()))
            optimizer.step(dict(zip(optimizer.params, grads, strict=True)))
            size = index.shape[1]
            totals = [t + v * size for t, v in zip(totals, values, strict=True)]
        with torch.no_grad():
            for i, k in enumerate(active):
                for name, target in zip(names, member_params[k], strict=True):
                    target.copy_(optimizer.params[name][i])
        for i, k in enumerate(active):
            val_loss = _checked(evaluate_loss(models[k], val, loss_fn), configs[k], epoch=epoch)
            bests[k].update(models[k], val_loss, epoch)
            row = {"epoch": float(epoch), "train_loss": totals[i] / max(n, 1), "val_loss": val_loss}
            results[k].history.append(row)

    for k, model in enumerate(models):
        bests[k].restore(model)
        model.eval()
        results[k].best_epoch, results[k].best_val_loss = bests[k].best_epoch, bests[k].best_loss
        _warn_kept_initial(results[k], configs[k], bests[k])
    return results


# -- EMMA stage 2 -----------------------------------------------------------------------------
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
    _check_members(models, configs, train, attention=True)
    for config in configs:
        _check_lr(config)
    emmas = [cast(EmmaModel, m) for m in models]
    k_all, device = len(emmas), train.y.device
    bests = [BestState(patience=c.patience) for c in configs]
    results = [FitResult() for _ in configs]
    for k, model in enumerate(emmas):  # loop.fit's start (calibrates the attention too)
        if configs[k].annealing is not None:
            _set_coldness(model, cast(ColdnessAnnealing, configs[k].annealing).rho)
        initial = _checked(evaluate_loss(model, val, loss_fn), configs[k], epoch=0)
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
    stacked_loss = _stacked_loss(loss_fn)
    modes = [mode.to(dtype=dtype) for mode in train.modes]
    generators = [torch.Generator().manual_seed(c.seed) for c in configs]
    # the coldness lives in the importance stage (a buffer, or a parameter when learnable)
    importance = [n for n in states[0] if n.startswith("model.attention.importance.")]

    active = list(range(k_all))
    n, batch_size = len(train), configs[0].batch_size
    for epoch in _epochs(configs):
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
                    _nonfinite(configs[active[i]], value, epoch, number, len(starts))
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
            val_loss = _checked(evaluate_loss(emmas[k], val, loss_fn), config, epoch=epoch)
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

    for k, model in enumerate(emmas):
        bests[k].restore(model)
        model.eval()
        results[k].best_epoch, results[k].best_val_loss = bests[k].best_epoch, bests[k].best_loss
        _warn_kept_initial(results[k], configs[k], bests[k])
    return results


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


def fit_networks(
    models: Sequence[nn.Module],
    train: TensorSplit,
    val: TensorSplit,
    loss_fn: LossFn,
    configs: Sequence[FitConfig],
    *,
    stack: bool = True,
) -> list[FitResult]:
    """Train every model, stacking those that can (the same results either way).

    Members that stack (`can_stack`, an in-memory split, a stackable `FitConfig`) are
    grouped by architecture and batch size; each group of two or more trains with
    `fit_stacked_networks`, every other model with `loop.fit`. ``stack=False`` (what a
    ``--no-stack`` option maps to) trains all of them one at a time. Results are in the
    order of ``models``.
    """
    models, configs = list(models), list(configs)
    if len(models) != len(configs):
        raise ValueError(f"{len(models)} models but {len(configs)} configs; give one each.")
    groups: dict[tuple[Any, ...], list[int]] = {}
    alone: list[int] = []
    for k, (model, config) in enumerate(zip(models, configs, strict=True)):
        stackable = isinstance(model, EmmaModel) and _stackable(model)
        attention = isinstance(model, EmmaModel) and model.attention is not None
        problem = _config_problem(config, attention=attention)
        if stack and stackable and not problem and _in_memory(train):
            groups.setdefault((_signature(model), config.batch_size), []).append(k)
        else:
            alone.append(k)
    results: dict[int, FitResult] = {}
    for members in groups.values():
        if len(members) == 1:
            alone.extend(members)
            continue
        with_attention = cast(EmmaModel, models[members[0]]).attention is not None
        trainer = fit_stacked_emma if with_attention else fit_stacked_networks
        group = trainer(
            [models[k] for k in members], train, val, loss_fn, [configs[k] for k in members]
        )
        results.update(zip(members, group, strict=True))
    for k in sorted(alone):
        results[k] = fit(models[k], train, val, loss_fn, configs[k])
    return [results[k] for k in range(len(models))]


def _check_members(
    models: list[nn.Module], configs: list[FitConfig], train: TensorSplit, *, attention: bool
) -> None:
    caller = "fit_stacked_emma" if attention else "fit_stacked_networks"
    if not models or len(models) != len(configs):
        raise ValueError(
            f"{caller} needs one config per model and at least one model; got "
            f"{len(models)} models and {len(configs)} configs."
        )
    if not all(
        isinstance(m, EmmaModel) and (m.attention is not None) == attention for m in models
    ) or not can_stack(models):
        what = (
            "with attention whose stage kinds and estimators all declare `stackable = True`"
            if attention
            else "with attention disabled"
        )
        raise ValueError(
            f"these models cannot train stacked: each must be an EmmaModel {what}, whose "
            "network kind declares `stackable = True` (no active dropout), and all must share "
            "one architecture. Use fit_networks, which falls back to fit."
        )
    problems = {p for c in configs if (p := _config_problem(c, attention=attention))}
    if problems:
        raise ValueError(f"cannot train stacked: {'; '.join(sorted(problems))}.")
    if len({c.batch_size for c in configs}) > 1:
        raise ValueError(
            "stacked members share one batch size; got "
            f"{sorted({c.batch_size for c in configs})} (fit_networks groups them by it)."
        )
    if not _in_memory(train):
        raise ValueError("stacked training needs an in-memory TensorSplit, not a stream.")
    if current_group() is not None:
        raise ValueError("stacked training runs in one process, not across a process group.")


def _config_problem(config: FitConfig, *, attention: bool = False) -> str | None:
    if config.annealing is not None and not attention:
        return "coldness annealing stacks only for models with attention (fit_stacked_emma)"
    if str(config.precision) != "32":
        return f"precision {config.precision!r} does not stack (only '32')"
    return None


def _in_memory(split: object) -> bool:
    return isinstance(split, TensorSplit) and current_group() is None


def _check_lr(config: FitConfig) -> None:
    if not (math.isfinite(config.lr) and config.lr >= 0):
        raise TrainingError(
            f"Training {config.desc!r} cannot start: lr={config.lr}; the learning rate must "
            "be a finite number >= 0.",
            desc=config.desc,
            epoch=0,
        )


def _epochs(configs: Sequence[FitConfig]) -> Any:
    from tqdm.auto import tqdm

    last = max(c.epochs for c in configs)
    names = sorted({c.desc for c in configs})
    return tqdm(
        range(1, last + 1),
        desc=f"{names[0]} (x{len(configs)} stacked)" if len(names) == 1 else "stacked",
        disable=not any(c.progress for c in configs),
        leave=False,
    )


def _nonfinite(config: FitConfig, value: float, epoch: int, batch: int, n_batches: int) -> None:
    raise TrainingError(
        f"Training {config.desc!r} stopped: the training loss is {value} at epoch {epoch}, "
        f"batch {batch} of {n_batches} (lr={config.lr}). The model diverged: lower the "
        "learning rate, or check the data and the estimators' potentials for NaN or "
        "infinite values.",
        desc=config.desc,
        epoch=epoch,
        batch=batch,
    )


def _warn_kept_initial(result: FitResult, config: FitConfig, best: BestState) -> None:
    if result.kept_initial:
        warnings.warn(
            f"Training {config.desc!r}: no epoch of {len(result.history)} improved the "
            f"validation loss of the initial state ({best.best_loss:.6g}), so the initial "
            "weights were kept (best epoch 0). Check the learning rate and the epochs.",
            TrainingWarning,
            stacklevel=3,
        )


def _zero_rows(x: Tensor, missing: Tensor) -> Tensor:
    """`zero_missing` on a ``[K, B, ...]`` mode with a ``[K, B]`` mask."""
    return torch.where(missing.reshape(*missing.shape, *[1] * (x.dim() - 2)), 0.0, x)


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


def _stacked_loss(loss_fn: LossFn) -> StackedLoss:
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
        if stack and _stackable(e):
            groups.setdefault((_signature(e), cast(TiedDAE, e).batch_size), []).append(k)
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
