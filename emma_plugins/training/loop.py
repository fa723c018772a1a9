"""The end-to-end training loop: Adam, mini-batches, regularizers, early stopping on validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins._minibatch import train_epoch
from emma_plugins.networks.interfaces import begin_fit, training_objective
from emma_plugins.training.annealing import ColdnessAnnealing
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.selection import BestState

LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass
class FitConfig:
    """How one model is trained (thesis defaults: 30 epochs, batch 32, Adam 1e-3)."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    patience: int | None = None
    lambda_c: float = 0.0
    lambda_e: float = 0.0
    annealing: ColdnessAnnealing | None = None
    progress: bool = True
    desc: str = "train"


@dataclass
class FitResult:
    """Per-epoch history and the epoch whose state was kept."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_val_loss: float = float("inf")


def _attention(model: nn.Module) -> Any:
    return getattr(model, "attention", None)


def _forward(model: nn.Module, batch: TensorSplit) -> tuple[Tensor, Any]:
    out = model(batch.modes, batch.missing)
    return out.output, out.report


def _objective(
    model: nn.Module,
    batch: TensorSplit,
    loss_fn: LossFn,
    config: FitConfig,
    *,
    epoch: int,
    index: Tensor,
) -> Tensor:
    from emma_plugins.attention import capacity_penalty, energy_regularizer

    output, report = _forward(model, batch)
    network = getattr(model, "network", model)
    loss = training_objective(network, output, batch.y, loss_fn, epoch=epoch, index=index)
    attention = _attention(model)
    if attention is not None and report is not None:
        if config.lambda_c:
            loss = loss + config.lambda_c * capacity_penalty(attention)
        if config.lambda_e:
            loss = loss + config.lambda_e * energy_regularizer(report, batch.xi)
    return loss


@torch.no_grad()
def evaluate_loss(
    model: nn.Module, split: TensorSplit, loss_fn: LossFn, batch_size: int = 4096
) -> float:
    """Task loss on a split (no regularizers), in evaluation mode."""
    model.eval()
    outputs = [_forward(model, split.take(index))[0] for index in _chunks(len(split), batch_size)]
    return float(loss_fn(torch.cat(outputs), split.y))


def _chunks(n: int, size: int) -> list[Tensor]:
    return list(torch.arange(n).split(size))


def _set_coldness(model: nn.Module, rho: float) -> None:
    attention = _attention(model)
    if attention is not None:
        attention.importance.set_coldness(rho)


def fit(
    model: nn.Module,
    train: TensorSplit,
    val: TensorSplit,
    loss_fn: LossFn,
    config: FitConfig,
) -> FitResult:
    """Train ``model`` (an `EmmaModel`) and restore its best validation state.

    Only parameters with ``requires_grad`` are optimised, so frozen estimators stay frozen.
    Constraints of the attention stages are re-imposed after every optimizer step. A
    network with its own ``training_loss`` (see `emma_plugins.networks.interfaces`) trains
    on that instead of ``loss_fn``; validation always uses ``loss_fn``.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=config.lr)
    attention = _attention(model)
    best = BestState(patience=config.patience)
    result = FitResult()
    if config.annealing is not None:
        _set_coldness(model, config.annealing.rho)
    best.update(model, evaluate_loss(model, val, loss_fn), epoch=0)
    begin_fit(getattr(model, "network", model), len(train))

    bar = tqdm(
        range(1, config.epochs + 1), desc=config.desc, disable=not config.progress, leave=False
    )
    for epoch in bar:
        model.train()
        if attention is not None:
            attention.estimators.eval()

        def batch_loss(index: Tensor, epoch: int = epoch) -> Tensor:
            return _objective(model, train.take(index), loss_fn, config, epoch=epoch, index=index)

        after_step = None if attention is None else attention.constrain_
        train_loss = train_epoch(
            optimizer, len(train), config.batch_size, generator, batch_loss, after_step=after_step
        )
        val_loss = evaluate_loss(model, val, loss_fn)
        improved = best.update(model, val_loss, epoch)
        row = {"epoch": float(epoch), "train_loss": train_loss, "val_loss": val_loss}
        if config.annealing is not None:
            row["rho"] = config.annealing.rho
            _set_coldness(model, config.annealing.step(improved))
        result.history.append(row)
        bar.set_postfix(val=f"{val_loss:.4g}")
        if best.should_stop:
            break
    best.restore(model)
    model.eval()
    result.best_epoch, result.best_val_loss = best.best_epoch, best.best_loss
    return result
