"""The end-to-end training loop: Adam, mini-batches, regularizers, early stopping on validation."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import Tensor, nn

from emma_plugins._minibatch import NonFiniteLoss, epoch_batches, run_epoch
from emma_plugins.core.errors import TrainingError, TrainingWarning
from emma_plugins.networks.interfaces import begin_fit, training_objective
from emma_plugins.training.annealing import ColdnessAnnealing
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.devices import Precision
from emma_plugins.training.distributed import current_group
from emma_plugins.training.resume import TrainerState
from emma_plugins.training.selection import BestState

LossFn = Callable[[Tensor, Tensor], Tensor]
#: Extra validation scores per epoch, for the history: ``{"val_accuracy": ...}``.
MetricsFn = Callable[[nn.Module], dict[str, float]]
#: Called after every epoch with the trainer's whole state (to save it for ``--resume``).
EpochCallback = Callable[[TrainerState], None]


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
    #: The forward pass's precision (`emma_plugins.training.devices.Precision`).
    precision: str = "32"


@dataclass
class FitResult:
    """Per-epoch history and the epoch whose state was kept.

    ``best_epoch`` is 0 when no epoch improved the validation loss of the initial state, so
    the initial weights were kept: `kept_initial` says so (and `fit` warns).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_val_loss: float = float("inf")

    @property
    def kept_initial(self) -> bool:
        """True when training ran but validation never improved on the initial state."""
        return self.best_epoch == 0 and bool(self.history)


def _attention(model: nn.Module) -> Any:
    return getattr(model, "attention", None)


def _forward(model: nn.Module, batch: TensorSplit) -> tuple[Tensor, Any]:
    out = model(batch.modes, batch.missing)
    return out.output, out.report


def objective(
    model: nn.Module,
    batch: TensorSplit,
    loss_fn: LossFn,
    config: FitConfig,
    *,
    epoch: int,
    index: Tensor,
) -> Tensor:
    """One batch's training loss: the task loss (the network's own, if it has one) in the
    configured precision, plus the capacity and energy regularizers in float32."""
    from emma_plugins.attention import capacity_penalty, energy_regularizer

    device = batch.y.device
    with Precision(config.precision).autocast(device):
        output, report = _forward(model, batch)
        network = getattr(model, "network", model)
        loss = training_objective(network, output, batch.y, loss_fn, epoch=epoch, index=index)
    loss = loss.float()  # the regularizers add in float32
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
    outputs = [
        _forward(model, batch)[0] for _, batch in batches_of(split, chunks(split, batch_size))
    ]
    return float(loss_fn(torch.cat(outputs), split.y))


def chunks(split: Any, size: int = 4096) -> list[Tensor]:
    """Index batches covering ``split`` in order for evaluation: ``size`` rows each, or the
    split's own ``eval_rows`` when smaller (a stream decodes only that many at a time)."""
    return list(torch.arange(len(split)).split(min(size, getattr(split, "eval_rows", size))))


def batches_of(split: Any, indices: Sequence[Tensor]) -> Iterable[tuple[Tensor, TensorSplit]]:
    """``(index, batch)`` per index batch: taken from an in-memory `TensorSplit`, or decoded
    by a stream's DataLoader (`emma_plugins.training.streams.StreamSplit.batches`)."""
    stream = getattr(split, "batches", None)
    if callable(stream):
        return cast(Iterable[tuple[Tensor, TensorSplit]], stream(indices))
    return ((index, split.take(index)) for index in indices)


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
    *,
    val_metrics: MetricsFn | None = None,
    on_epoch: EpochCallback | None = None,
    resume: TrainerState | None = None,
) -> FitResult:
    """Train ``model`` (an `EmmaModel`) and restore its best validation state.

    Only parameters with ``requires_grad`` are optimised, so frozen estimators stay frozen.
    Constraints of the attention stages are re-imposed after every optimizer step. A
    network with its own ``training_loss`` (see `emma_plugins.networks.interfaces`) trains
    on that instead of ``loss_fn``; validation always uses ``loss_fn``.

    A NaN or infinite training loss (before its step) or validation loss stops training
    with a `TrainingError` naming ``config.desc``, the epoch and the batch. When no epoch
    improves on the initial validation loss, the initial state is kept, the result's
    ``kept_initial`` is True and a `TrainingWarning` is issued.

    ``val_metrics(model)`` adds scores to each epoch's history row. ``on_epoch(state)``
    receives the trainer's whole state after each epoch; passing such a state back as
    ``resume`` continues with the next epoch and ends as an uninterrupted run would.
    """
    from tqdm.auto import tqdm

    check_lr(config)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=config.lr)
    attention = _attention(model)
    best = BestState(patience=config.patience)
    result = FitResult()
    group = current_group()
    scaler = Precision(config.precision).scaler(train.y.device)
    begin_fit(getattr(model, "network", model), len(train))
    if resume is None:
        start = 1
        if config.annealing is not None:
            _set_coldness(model, config.annealing.rho)
        initial = checked_val_loss(evaluate_loss(model, val, loss_fn), config, epoch=0)
        best.update(model, initial, epoch=0)
    else:
        start = _restore(resume, model, optimizer, generator, best, config, result)

    bar = tqdm(
        range(start, config.epochs + 1),
        desc=config.desc,
        disable=not config.progress or (group is not None and not group.is_main),
        leave=False,
        initial=start - 1,
        total=config.epochs,
    )
    for epoch in bar:
        if group.agree(best.should_stop) if group is not None else best.should_stop:
            break
        model.train()
        if attention is not None:
            attention.estimators.eval()

        def batch_loss(pair: tuple[Tensor, TensorSplit], epoch: int = epoch) -> Tensor:
            index, batch = pair
            return objective(model, batch, loss_fn, config, epoch=epoch, index=index)

        after_step = None if attention is None else attention.constrain_
        indices = epoch_batches(len(train), config.batch_size, generator, train.y.device)
        try:
            train_loss = run_epoch(
                optimizer,
                batches_of(train, indices),
                batch_loss,
                size=lambda pair: len(pair[0]),
                after_step=after_step,
                scaler=scaler,
                n_batches=len(indices),
            )
        except NonFiniteLoss as err:
            raise TrainingError(
                f"Training {config.desc!r} stopped: the training loss is {err.value} at epoch "
                f"{epoch}, batch {err.batch} of {err.n_batches} (lr={config.lr}). The model "
                "diverged: lower the learning rate, or check the data and the estimators' "
                "potentials for NaN or infinite values.",
                desc=config.desc,
                epoch=epoch,
                batch=err.batch,
            ) from err
        val_loss = checked_val_loss(evaluate_loss(model, val, loss_fn), config, epoch=epoch)
        improved = best.update(model, val_loss, epoch)
        if group is not None:  # rank 0 decides; every process follows (same weights anyway)
            improved = group.agree(improved)
        row = {"epoch": float(epoch), "train_loss": train_loss, "val_loss": val_loss}
        if val_metrics is not None:
            row |= val_metrics(model)
        if config.annealing is not None:
            row["rho"] = config.annealing.rho
            _set_coldness(model, config.annealing.step(improved))
        result.history.append(row)
        bar.set_postfix(val=f"{val_loss:.4g}")
        if on_epoch is not None:
            on_epoch(_capture(epoch, model, optimizer, generator, best, config, result))
    best.restore(model)
    model.eval()
    result.best_epoch, result.best_val_loss = best.best_epoch, best.best_loss
    if result.kept_initial:
        warnings.warn(
            f"Training {config.desc!r}: no epoch of {len(result.history)} improved the "
            f"validation loss of the initial state ({best.best_loss:.6g}), so the initial "
            "weights were kept (best epoch 0). Check the learning rate and the epochs.",
            TrainingWarning,
            stacklevel=2,
        )
    return result


def _capture(
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    best: BestState,
    config: FitConfig,
    result: FitResult,
) -> TrainerState:
    annealing = config.annealing
    return TrainerState(
        epoch=epoch,
        model={k: v.detach().clone() for k, v in model.state_dict().items()},
        optimizer=optimizer.state_dict(),
        generator=generator.get_state(),
        global_rng=torch.get_rng_state(),
        best=best.state_dict(),
        history=[dict(row) for row in result.history],
        annealing=None
        if annealing is None
        else {"rho": annealing.rho, "cooling": annealing.cooling},
    )


def _restore(
    state: TrainerState,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    best: BestState,
    config: FitConfig,
    result: FitResult,
) -> int:
    """Put ``state`` back into the trainer; returns the epoch to run next."""
    model.load_state_dict(state.model)
    optimizer.load_state_dict(state.optimizer)
    generator.set_state(state.generator)
    torch.set_rng_state(state.global_rng)
    best.load_state_dict(state.best)
    result.history = [dict(row) for row in state.history]
    if config.annealing is not None and state.annealing is not None:
        config.annealing.rho = float(state.annealing["rho"])
        config.annealing.cooling = bool(state.annealing["cooling"])
        _set_coldness(model, config.annealing.rho)
    return state.epoch + 1


def check_lr(config: FitConfig) -> None:
    """Refuse a learning rate that is not a finite number >= 0, before anything trains."""
    if not (math.isfinite(config.lr) and config.lr >= 0):
        raise TrainingError(
            f"Training {config.desc!r} cannot start: lr={config.lr}; the learning rate must "
            "be a finite number >= 0.",
            desc=config.desc,
            epoch=0,
        )


def checked_val_loss(val_loss: float, config: FitConfig, *, epoch: int) -> float:
    """``val_loss``, or a `TrainingError` when it is NaN or infinite."""
    if math.isfinite(val_loss):
        return val_loss
    when = "before training (epoch 0)" if epoch == 0 else f"after epoch {epoch}"
    raise TrainingError(
        f"Training {config.desc!r} stopped: the validation loss is {val_loss} {when} "
        f"(lr={config.lr}). The model diverged or the validation data holds NaN or "
        "infinite values.",
        desc=config.desc,
        epoch=epoch,
    )
