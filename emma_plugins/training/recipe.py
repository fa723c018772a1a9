"""Train one model the way its spec says: what `emma fit` and the scikit-learn estimator run.

Three stages, each skipped when the spec asks for none of it:

* ``estimators``: fit each mode's energy estimator on the clean training split and freeze it;
* ``base``: the network alone on clean data (``training.base_epochs``);
* ``emma``: EMMA plus the network, end to end on the corrupted mix (``training.epochs``),
  starting from the base network, with the capacity and energy regularizers and annealing.

A `StageStore` makes the run resumable: a finished stage is loaded instead of trained again,
and the stage in progress continues from its last complete epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from torch import Tensor

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.spec.sections import TrainingSpec
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.distributed import is_main_process
from emma_plugins.training.loop import FitResult, LossFn, MetricsFn, fit
from emma_plugins.training.resume import TrainerState
from emma_plugins.training.settings import coldness_annealing, fit_config
from emma_plugins.training.stages import start_attention

#: Told ``(stage, state)`` after every epoch (history files, TensorBoard).
EpochListener = Callable[[str, TrainerState], None]


class StageStore(Protocol):
    """Where a training keeps its progress (a model directory's ``progress/`` folder)."""

    def finished(self, stage: str) -> FinishedStage | None:
        """What a finished stage left, or None when it has not finished."""

    def finish(self, stage: str, done: FinishedStage) -> None:
        """Record that ``stage`` finished."""

    def resume_point(self, stage: str) -> TrainerState | None:
        """The trainer's state after the last complete epoch of ``stage``, if any."""

    def save_epoch(self, stage: str, state: TrainerState) -> None:
        """Keep the trainer's state after an epoch of ``stage``."""


@dataclass(frozen=True)
class FinishedStage:
    """A finished stage: the weights it left and its per-epoch history."""

    state: dict[str, Tensor]
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class RecipeData:
    """The tensors one model trains on: clean splits for stage 1, the corrupted mix for
    stage 2 (validation corrupted the same way, for model selection)."""

    clean_train: TensorSplit
    clean_val: TensorSplit
    mixed_train: TensorSplit
    mixed_val: TensorSplit


@dataclass
class RecipeResult:
    """Each stage's per-epoch history (trained now or loaded from the store), and the fit
    results of the stages trained now."""

    histories: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    fits: dict[str, FitResult] = field(default_factory=dict)

    def history(self) -> list[dict[str, float | str]]:
        """Every epoch of every stage, in order, with a ``stage`` column."""
        return [{"stage": stage, **row} for stage, rows in self.histories.items() for row in rows]


def train_recipe(
    model: EmmaModel,
    data: RecipeData,
    training: TrainingSpec,
    loss: LossFn,
    *,
    store: StageStore | None = None,
    progress: bool = False,
    val_metrics: Callable[[str], MetricsFn] | None = None,
    on_epoch: EpochListener | None = None,
) -> RecipeResult:
    """Train ``model`` in place through the spec's stages; returns their histories.

    ``val_metrics(stage)`` gives the per-epoch validation scores of a stage's history;
    ``on_epoch(stage, state)`` is told after every epoch (after the store kept it).
    """
    result = RecipeResult()
    if model.attention is not None:
        _estimators(model, data.clean_train, store, progress)
    if training.base_epochs > 0:
        base = EmmaModel(model.spec, model.network, None, network_source=model.network_source)
        _stage(
            "base", base, data.clean_train, data.clean_val, training, loss, store, progress,
            val_metrics, on_epoch, result, annealed=False,
        )  # fmt: skip
    if training.epochs > 0:
        _stage(
            "emma", model, data.mixed_train, data.mixed_val, training, loss, store, progress,
            val_metrics, on_epoch, result, annealed=True,
        )  # fmt: skip
    return result


def _estimators(
    model: EmmaModel, train: TensorSplit, store: StageStore | None, progress: bool
) -> None:
    attention = model.attention
    assert attention is not None
    saved = store.finished("estimators") if store is not None else None
    if saved is None:
        missing = train.missing if isinstance(train, TensorSplit) else None  # streams: none
        model.fit_estimators(train.modes, progress=progress and is_main_process(), missing=missing)
        if store is not None and is_main_process():
            store.finish("estimators", FinishedStage(_copy(attention.estimators.state_dict())))
        return
    attention.estimators.load_state_dict(saved.state)
    attention.estimators.requires_grad_(False)
    attention.estimators.eval()
    attention.calibrate_()


def _stage(
    name: str,
    model: EmmaModel,
    train: TensorSplit,
    val: TensorSplit,
    training: TrainingSpec,
    loss: LossFn,
    store: StageStore | None,
    progress: bool,
    val_metrics: Callable[[str], MetricsFn] | None,
    on_epoch: EpochListener | None,
    result: RecipeResult,
    *,
    annealed: bool,
) -> None:
    saved = store.finished(name) if store is not None else None
    if saved is not None:
        model.load_state_dict(saved.state)
        result.histories[name] = saved.history
        return
    epochs = training.base_epochs if name == "base" else training.epochs
    config = fit_config(training, seed=training.seed, epochs=epochs, progress=progress, desc=name)
    anneal = coldness_annealing(training) if annealed and model.attention is not None else None
    config.annealing = anneal
    resume = store.resume_point(name) if store is not None else None
    if resume is None and model.attention is not None:
        start_attention(model, anneal=anneal is not None)

    def keep(state: TrainerState) -> None:
        if store is not None and is_main_process():
            store.save_epoch(name, state)
        if on_epoch is not None:
            on_epoch(name, state)

    result.fits[name] = done = fit(
        model,
        train,
        val,
        loss,
        config,
        val_metrics=None if val_metrics is None else val_metrics(name),
        on_epoch=keep if store is not None or on_epoch is not None else None,
        resume=resume,
    )
    result.histories[name] = done.history
    if store is not None and is_main_process():
        store.finish(name, FinishedStage(_copy(model.state_dict()), done.history))


def _copy(state: dict[str, Tensor]) -> dict[str, Tensor]:
    return {key: value.detach().clone() for key, value in state.items()}


__all__ = [
    "EpochListener",
    "FinishedStage",
    "RecipeData",
    "RecipeResult",
    "StageStore",
    "train_recipe",
]
