"""Which models stack together, and the checks every stacked trainer shares."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.attention.module import EnergyAttention
from emma_plugins.core.errors import TrainingError, TrainingWarning
from emma_plugins.estimators.dae import TiedDAE
from emma_plugins.networks.interfaces import HasTrainingLoss
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.distributed import current_group
from emma_plugins.training.loop import FitConfig, FitResult
from emma_plugins.training.selection import BestState


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
    if not modules or not all(kind_stacks(m) for m in modules):
        return False
    first = signature(modules[0])
    return all(signature(m) == first for m in modules[1:])


def kind_stacks(module: nn.Module) -> bool:
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
        kind_stacks(e) and getattr(type(e), "potential", None) is TiedDAE.potential
        for e in attention.estimators
    )


#: Python settings of modules that change what a forward computes (the architecture).
_SETTINGS = ("energy_input", "apply_to", "min_gain", "n_modes")


def signature(module: nn.Module) -> tuple[Any, ...]:
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


def check_members(
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
    problems = {p for c in configs if (p := config_problem(c, attention=attention))}
    if problems:
        raise ValueError(f"cannot train stacked: {'; '.join(sorted(problems))}.")
    if len({c.batch_size for c in configs}) > 1:
        raise ValueError(
            "stacked members share one batch size; got "
            f"{sorted({c.batch_size for c in configs})} (fit_networks groups them by it)."
        )
    if not in_memory(train):
        raise ValueError("stacked training needs an in-memory TensorSplit, not a stream.")
    if current_group() is not None:
        raise ValueError("stacked training runs in one process, not across a process group.")


def config_problem(config: FitConfig, *, attention: bool = False) -> str | None:
    if config.annealing is not None and not attention:
        return "coldness annealing stacks only for models with attention (fit_stacked_emma)"
    if str(config.precision) != "32":
        return f"precision {config.precision!r} does not stack (only '32')"
    return None


def in_memory(split: object) -> bool:
    return isinstance(split, TensorSplit) and current_group() is None


def epochs(configs: Sequence[FitConfig]) -> Any:
    from tqdm.auto import tqdm

    last = max(c.epochs for c in configs)
    names = sorted({c.desc for c in configs})
    return tqdm(
        range(1, last + 1),
        desc=f"{names[0]} (x{len(configs)} stacked)" if len(names) == 1 else "stacked",
        disable=not any(c.progress for c in configs),
        leave=False,
    )


def nonfinite(config: FitConfig, value: float, epoch: int, batch: int, n_batches: int) -> None:
    raise TrainingError(
        f"Training {config.desc!r} stopped: the training loss is {value} at epoch {epoch}, "
        f"batch {batch} of {n_batches} (lr={config.lr}). The model diverged: lower the "
        "learning rate, or check the data and the estimators' potentials for NaN or "
        "infinite values.",
        desc=config.desc,
        epoch=epoch,
        batch=batch,
    )


def warn_kept_initial(result: FitResult, config: FitConfig, best: BestState) -> None:
    if result.kept_initial:
        warnings.warn(
            f"Training {config.desc!r}: no epoch of {len(result.history)} improved the "
            f"validation loss of the initial state ({best.best_loss:.6g}), so the initial "
            "weights were kept (best epoch 0). Check the learning rate and the epochs.",
            TrainingWarning,
            stacklevel=3,
        )


def zero_rows(x: Tensor, missing: Tensor) -> Tensor:
    """`zero_missing` on a ``[K, B, ...]`` mode with a ``[K, B]`` mask."""
    return torch.where(missing.reshape(*missing.shape, *[1] * (x.dim() - 2)), 0.0, x)


def finish_members(
    models: Sequence[nn.Module],
    results: list[FitResult],
    bests: list[BestState],
    configs: Sequence[FitConfig],
) -> list[FitResult]:
    """Every member's best state restored, in eval mode, with its best epoch recorded (as
    `loop.fit` ends); warns for a member that kept its initial weights."""
    for k, model in enumerate(models):
        bests[k].restore(model)
        model.eval()
        results[k].best_epoch, results[k].best_val_loss = bests[k].best_epoch, bests[k].best_loss
        warn_kept_initial(results[k], configs[k], bests[k])
    return results


__all__ = [
    "can_stack",
    "finish_members",
]
