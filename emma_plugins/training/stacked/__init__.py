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
  declare ``stackable = True`` (``min_shift``, ``standardized``, ``coupled``, ``self_only``,
  ``boltzmann``, ``shared_tanh``), whose estimators are stackable `TiedDAE` s, whose energy
  input is the potential and whose network stacks. One ``torch.vmap`` over
  ``functional_call`` of the whole model per batch, with each member's frozen estimators,
  buffers (the coldness ρ, the correction's calibration) and λ_c, λ_e; ``constrain_()``
  vmapped after each step; annealing per member.

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

from collections.abc import Sequence
from typing import Any, cast

from torch import nn

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loop import FitConfig, FitResult, LossFn, fit
from emma_plugins.training.stacked.adam import StackedAdam
from emma_plugins.training.stacked.emma import fit_stacked_emma
from emma_plugins.training.stacked.estimators import fit_all_estimators, fit_stacked_estimators
from emma_plugins.training.stacked.members import (
    can_stack,
    config_problem,
    in_memory,
    kind_stacks,
    signature,
)
from emma_plugins.training.stacked.networks import fit_stacked_networks

__all__ = [
    "StackedAdam",
    "can_stack",
    "fit_all_estimators",
    "fit_networks",
    "fit_stacked_emma",
    "fit_stacked_estimators",
    "fit_stacked_networks",
]


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
        stackable = isinstance(model, EmmaModel) and kind_stacks(model)
        attention = isinstance(model, EmmaModel) and model.attention is not None
        problem = config_problem(config, attention=attention)
        if stack and stackable and not problem and in_memory(train):
            groups.setdefault((signature(model), config.batch_size), []).append(k)
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
