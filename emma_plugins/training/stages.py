"""The two training stages and the three models of section 6.3.

* stage 1: fit each mode's estimator on the clean training split and freeze it; train the
  base network on clean data (``base``);
* ``without``: the base weights fine-tuned on the corrupted mix (noise augmentation);
* ``with``: the base weights plus a fresh EMMA, trained end to end on the corrupted mix with
  the capacity and energy regularizers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import torch

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.training.annealing import ColdnessAnnealing, compensate_initial_attention
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loop import FitConfig, FitResult, LossFn, fit


def _desc(config: FitConfig, stage: str) -> str:
    """The stage's name, after the caller's own ``desc`` when it gave one (progress bars and
    `TrainingError` messages name it): ``with``, or ``emma[rho=1] (with)``."""
    return stage if config.desc == FitConfig.desc else f"{config.desc} ({stage})"


@dataclass
class StageResult:
    """A trained model and how its training went."""

    model: EmmaModel
    fit: FitResult


def fit_estimators(model: EmmaModel, train: TensorSplit, progress: bool = False) -> None:
    """Stage 1 for the estimators: fit each on its clean training mode and freeze it."""
    model.fit_estimators(train.modes, progress=progress)


def adopt_estimators(model: EmmaModel, source: EmmaModel) -> None:
    """Give ``model`` a copy of ``source``'s fitted, frozen estimators (same modes).

    Stage 1 does not depend on the attention stages or the regularizers, so models that
    differ only there can share one fit per seed instead of refitting identical estimators.
    """
    if model.attention is None or source.attention is None:
        raise ValueError("adopt_estimators needs two models with attention enabled.")
    model.attention.estimators.load_state_dict(source.attention.estimators.state_dict())
    model.attention.estimators.requires_grad_(False)
    model.attention.estimators.eval()
    model.attention.calibrate_()


def train_base(
    model: EmmaModel, train: TensorSplit, val: TensorSplit, loss: LossFn, config: FitConfig
) -> StageResult:
    """Stage 1 for the network: the bare network on clean data."""
    return StageResult(
        model, fit(model, train, val, loss, replace(config, desc=_desc(config, "base")))
    )


def train_without(
    base: EmmaModel, train: TensorSplit, val: TensorSplit, loss: LossFn, config: FitConfig
) -> StageResult:
    """``model-without``: a copy of the base model fine-tuned on the corrupted mix."""
    model = copy.deepcopy(base)
    return StageResult(
        model, fit(model, train, val, loss, replace(config, desc=_desc(config, "without")))
    )


def train_with(
    model: EmmaModel,
    base: EmmaModel,
    clean_train: TensorSplit,
    train: TensorSplit,
    val: TensorSplit,
    loss: LossFn,
    config: FitConfig,
    *,
    anneal: ColdnessAnnealing | None = None,
    estimators_from: EmmaModel | None = None,
) -> StageResult:
    """``model-with``: fit and freeze the estimators, copy the base network's weights into a
    model with a fresh EMMA, and train end to end on the corrupted mix.

    With ``anneal``, the network's input layer is first divided by tanh(1/M) and the coldness
    starts hot (section 8.1), so EMMA initially changes nothing. With ``estimators_from`` (a
    model of the same modes whose estimators are fitted), its estimators are copied instead
    of fitted again on ``clean_train``.
    """
    prepare_with(
        model,
        base,
        clean_train,
        anneal=anneal is not None,
        estimators_from=estimators_from,
        progress=config.progress,
    )
    result = fit(model, train, val, loss, with_config(config, anneal))
    return StageResult(model, result)


def prepare_with(
    model: EmmaModel,
    base: EmmaModel,
    clean_train: TensorSplit,
    *,
    anneal: bool,
    estimators_from: EmmaModel | None = None,
    progress: bool = False,
) -> EmmaModel:
    """Everything `train_with` does before training: the estimators fitted (or adopted from
    ``estimators_from``) and frozen, the base network's weights copied in, the input layer
    compensated when annealing, the attention's constraints imposed. Many models prepared
    this way can then train one at a time or stacked
    (`emma_plugins.training.stacked.fit_networks`)."""
    if model.attention is None:
        raise ValueError("train_with needs a model with attention enabled.")
    if estimators_from is None:
        fit_estimators(model, clean_train, progress=progress)
    else:
        adopt_estimators(model, estimators_from)
    model.network.load_state_dict(base.network.state_dict())
    start_attention(model, anneal=anneal)
    return model


def start_attention(model: EmmaModel, *, anneal: bool) -> None:
    """EMMA's starting point for stage 2: with annealing the input layer compensated so
    that the hot start changes nothing (section 8.1), and the attention's constraints
    imposed."""
    if model.attention is None:
        raise ValueError("stage 2 with EMMA needs a model with attention enabled.")
    if anneal:
        compensate_initial_attention(
            model.network, n_modes=len(model.mode_names), apply_to=model.apply_to
        )
    with torch.no_grad():
        model.attention.constrain_()


def with_config(config: FitConfig, anneal: ColdnessAnnealing | None) -> FitConfig:
    """The trainer's settings of `train_with`: its stage name, and the annealing."""
    return replace(config, desc=_desc(config, "with"), annealing=anneal)
