"""Experiment 1 (table 6.2): base, without and with EMMA on clean and one-mode-noisy data.

Several seeds, every model of a seed on the same splits and corruptions, thresholds and
early stopping on validation data only. Two evaluations: the thesis' own (the corrupted
50/25/25 test split, each part scored separately) and a lower-variance one (the whole
test split once per condition, averaged over several noise draws).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from emma_plugins.corruptions import Corruption, CorruptionScheme, GaussianNoise, MissingMode, make_corruption
from emma_plugins.sources import MultiModalData
from emma_lab.metrics.stats import PairedComparison, compare
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.training.annealing import ColdnessAnnealing
from emma_plugins.training.loop import FitConfig
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.stages import train_base, train_with, train_without
from emma_lab.experiments.protocol import SeedData, choose_threshold, corrupted_copy, prepare_seed, score


class ModelFactory(Protocol):
    """``factory(attention_patch, seed, network=None) -> EmmaModel``.

    An attention patch of ``None`` means no attention; ``network`` patches the network.
    """

    def __call__(
        self, patch: Mapping[str, Any] | None, seed: int, network: Mapping[str, Any] | None = None
    ) -> EmmaModel: ...


@dataclass
class TableConfig:
    """Settings of experiment 1; the defaults are the thesis' (sections 6.3 and B)."""

    seeds: list[int] = field(default_factory=lambda: list(range(10)))
    sigma: float = 0.5
    clean_fraction: float = 0.5
    noise_draws: int = 3
    base_epochs: int = 30
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    patience: int | None = None
    lambda_c: float = 1e-3
    lambda_e: float = 1e-2
    anneal: bool = False
    anneal_start: float = 1e-6
    anneal_factor: float = 3.0
    balanced_loss: bool = True
    progress: bool = True
    #: Mode name -> its corruption kind, ``{"kind": ..., **params}`` (else Gaussian ``sigma``).
    corruptions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Also score every model with each mode missing (conditions ``<mode>_missing``).
    missing_modes: bool = False

    def corruption(self, mode: str) -> Corruption:
        """The corruption a mode fails with, in the training mix and the evaluation."""
        chosen = self.corruptions.get(mode)
        return GaussianNoise(self.sigma) if chosen is None else make_corruption(chosen)

    def prepare(self, data: MultiModalData, mode_names: Sequence[str], seed: int) -> SeedData:
        """One seed's splits and corrupted mixes, with this configuration's corruptions."""
        return prepare_seed(
            data,
            list(mode_names),
            seed,
            sigma=self.sigma,
            clean_fraction=self.clean_fraction,
            corruptions={mode: self.corruption(mode) for mode in self.corruptions},
        )

    def describe_corruption(self, mode_names: list[str]) -> str:
        """``mode: kind(params)`` for each mode, for reports."""
        return ", ".join(f"{mode}: {self.corruption(mode)!r}" for mode in mode_names)

    def with_overrides(self, overrides: Mapping[str, Any]) -> TableConfig:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"unknown training override(s) {unknown}; known: {', '.join(sorted(known))}"
            )
        return replace(self, **dict(overrides))


@dataclass(frozen=True)
class Variant:
    """A named change to model-with: an attention patch and training overrides."""

    name: str
    attention: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Baseline:
    """Another bare network trained like ``base`` on clean data, e.g. the original code's
    IP-only network (``network: {reads: [0]}``)."""

    name: str
    network: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class SeedOutcome:
    """Everything one seed produced: score rows, diagnostics, the trained models and their
    validation thresholds (by model name: base, without, with, with[variant])."""

    scores: list[dict[str, Any]]
    diagnostics: list[dict[str, Any]]
    models: dict[str, EmmaModel]
    thresholds: dict[str, float]


SeedCallback = Callable[[SeedData, SeedOutcome], None]


@dataclass
class TableResult:
    """Per-seed scores (``scores``), per-seed diagnostics and the paired comparisons."""

    scores: pd.DataFrame
    diagnostics: pd.DataFrame
    comparisons: list[PairedComparison]
    metric: str
    mode_names: list[str]

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over seeds per evaluation, model and condition."""
        grouped = self.scores.groupby(["evaluation", "model", "condition"], sort=False)["value"]
        return grouped.agg(["mean", "std", "count"]).reset_index()


def fit_config(config: TableConfig, seed: int, epochs: int) -> FitConfig:
    """The trainer's settings for one model of a seed (no progress bar of its own)."""
    return FitConfig(
        epochs=epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=seed,
        patience=config.patience,
        lambda_c=config.lambda_c,
        lambda_e=config.lambda_e,
        progress=False,
    )


def _annealing(config: TableConfig) -> ColdnessAnnealing | None:
    if not config.anneal:
        return None
    return ColdnessAnnealing(start=config.anneal_start, factor=config.anneal_factor)


#: The two evaluations, as named in comparison labels.
EVALUATION_LABELS = {"thesis_split": "thesis split", "full_test": "full test"}


def conditions(mode_names: list[str]) -> list[str]:
    """``clean``, then ``<mode>_noisy`` for each mode: the parts of a corrupted split."""
    return ["clean", *[f"{name}_noisy" for name in mode_names]]


def scores_by_part(
    model: nn.Module, data: SeedData, split_name: str, threshold: float
) -> dict[str, float]:
    """The metric on each part (clean, one-mode-noisy, ...) of a corrupted split."""
    mixed, group = data.mixed[split_name], data.mixed_group[split_name]
    return {
        condition: score(model, mixed.take(torch.nonzero(group == g).squeeze(1)), threshold)
        for g, condition in enumerate(conditions(data.mode_names))
    }


def _evaluate(
    model: nn.Module, data: SeedData, threshold: float, config: TableConfig
) -> list[dict[str, Any]]:
    names = data.mode_names
    rows: list[dict[str, Any]] = [
        {"evaluation": "thesis_split", "condition": condition, "value": value}
        for condition, value in scores_by_part(model, data, "test", threshold).items()
    ]
    clean = data.clean["test"]
    rows.append(
        {"evaluation": "full_test", "condition": "clean", "value": score(model, clean, threshold)}
    )
    for i, name in enumerate(names):
        scheme = CorruptionScheme.uniform({name: config.corruption(name)})
        draws = [
            score(
                model,
                corrupted_copy(clean, names, scheme, seed=data.seed * 1000 + 10 * i + draw),
                threshold,
            )
            for draw in range(config.noise_draws)
        ]
        rows.append(
            {
                "evaluation": "full_test",
                "condition": f"{name}_noisy",
                "value": float(np.mean(draws)),
            }
        )
    if config.missing_modes:
        for name in names:
            absent = corrupted_copy(
                clean, names, CorruptionScheme.uniform({name: MissingMode()}), 0
            )
            rows.append(
                {
                    "evaluation": "full_test",
                    "condition": f"{name}_missing",
                    "value": score(model, absent, threshold),
                }
            )
    return rows


@torch.no_grad()
def _diagnostics(model: nn.Module, fit_epoch: int) -> dict[str, Any]:
    row: dict[str, Any] = {"best_epoch": fit_epoch}
    attention = getattr(model, "attention", None)
    if attention is not None:
        row["capacity"] = float(attention.capacity())
        row["effective_capacity"] = float(attention.effective_capacity())
        row["rho"] = float(attention.importance.coldness)
    return row


@dataclass
class TrainedModel:
    """A trained model with its best epoch, its validation threshold and validation loss."""

    model: EmmaModel
    best_epoch: int
    threshold: float
    val_loss: float


def seed_loss(data: SeedData, config: TableConfig) -> ClassificationLoss:
    """The task loss of one seed (class weights from that seed's training split)."""
    return ClassificationLoss(data.clean["train"].y, data.n_classes, balanced=config.balanced_loss)


def train_base_model(
    factory: ModelFactory,
    data: SeedData,
    config: TableConfig,
    loss: ClassificationLoss,
    network: Mapping[str, Any] | None = None,
) -> TrainedModel:
    """``base``: the bare network on clean data; its threshold from clean validation data.

    ``network`` patches the spec's network (for baselines such as a one-mode network).
    """
    torch.manual_seed(data.seed)
    base = train_base(
        factory(None, data.seed, network),
        data.clean["train"],
        data.clean["val"],
        loss,
        fit_config(config, data.seed, config.base_epochs),
    )
    threshold = choose_threshold(base.model, data.clean["val"])
    return TrainedModel(base.model, base.fit.best_epoch, threshold, base.fit.best_val_loss)


def train_without_model(
    base: EmmaModel, data: SeedData, config: TableConfig, loss: ClassificationLoss
) -> TrainedModel:
    """``without``: the base weights fine-tuned on the corrupted mix."""
    without = train_without(
        base,
        data.mixed["train"],
        data.mixed["val"],
        loss,
        fit_config(config, data.seed, config.epochs),
    )
    threshold = choose_threshold(without.model, data.mixed["val"])
    return TrainedModel(without.model, without.fit.best_epoch, threshold, without.fit.best_val_loss)


def variant_model_name(variant: Variant) -> str:
    """``with`` for the spec's own model-with, ``with[name]`` for a variant."""
    return variant.name if variant.name == "with" else f"with[{variant.name}]"


def train_variant(
    factory: ModelFactory,
    data: SeedData,
    config: TableConfig,
    variant: Variant,
    base: EmmaModel,
    loss: ClassificationLoss,
    *,
    estimators_from: EmmaModel | None = None,
) -> TrainedModel:
    """A model-with (``variant``'s attention patch and training overrides) on one seed.

    ``estimators_from``: a model of the same seed whose fitted estimators are reused.
    """
    settings = config.with_overrides(variant.training)
    torch.manual_seed(data.seed)
    model = factory(variant.attention, data.seed)
    result = train_with(
        model,
        base,
        data.clean["train"],
        data.mixed["train"],
        data.mixed["val"],
        loss,
        fit_config(settings, data.seed, settings.epochs),
        anneal=_annealing(settings),
        estimators_from=estimators_from,
    )
    threshold = choose_threshold(result.model, data.mixed["val"])
    return TrainedModel(result.model, result.fit.best_epoch, threshold, result.fit.best_val_loss)


def score_models(
    trained: Mapping[str, TrainedModel], data: SeedData, config: TableConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Test score rows (both evaluations) and diagnostics of every named model of a seed."""
    scores, diagnostics = [], []
    for name, item in trained.items():
        for row in _evaluate(item.model, data, item.threshold, config):
            scores.append({"seed": data.seed, "model": name, **row})
        diagnostics.append(
            {
                "seed": data.seed,
                "model": name,
                "threshold": item.threshold,
                **_diagnostics(item.model, item.best_epoch),
            }
        )
    return scores, diagnostics


def run_seed(
    factory: ModelFactory,
    data: SeedData,
    config: TableConfig,
    variants: list[Variant],
    *,
    include_with: bool = True,
    baselines: Sequence[Baseline] = (),
) -> SeedOutcome:
    """Train every model of one seed and score it.

    ``include_with=False`` leaves out the spec's own model-with and trains only the
    variants (next to base and without). Stage 1 is fitted once per seed and shared by
    every model-with, since no variant changes the estimators.
    """
    loss = seed_loss(data, config)
    base = train_base_model(factory, data, config, loss)
    trained = {"base": base, "without": train_without_model(base.model, data, config, loss)}
    for baseline in baselines:
        trained[baseline.name] = train_base_model(factory, data, config, loss, baseline.network)
    fitted: EmmaModel | None = None
    defaults = [Variant("with")] if include_with else []
    for variant in [*defaults, *variants]:
        item = train_variant(
            factory, data, config, variant, base.model, loss, estimators_from=fitted
        )
        fitted = fitted or item.model
        trained[variant_model_name(variant)] = item
    scores, diagnostics = score_models(trained, data, config)
    models = {name: item.model for name, item in trained.items()}
    thresholds = {name: item.threshold for name, item in trained.items()}
    return SeedOutcome(scores, diagnostics, models, thresholds)


def seed_values(scores: pd.DataFrame, evaluation: str, model: str, condition: str) -> list[float]:
    """One model's scores on one evaluation and condition, in seed order (for pairing)."""
    rows = scores[
        (scores.evaluation == evaluation)
        & (scores.model == model)
        & (scores.condition == condition)
    ].sort_values("seed")
    return [float(v) for v in rows["value"]]


def _comparisons(scores: pd.DataFrame, variants: list[Variant]) -> list[PairedComparison]:
    out: list[PairedComparison] = []

    def pair(evaluation: str, a: str, b: str, condition: str, label: str) -> PairedComparison:
        return compare(
            seed_values(scores, evaluation, a, condition),
            seed_values(scores, evaluation, b, condition),
            a=a,
            b=b,
            condition=label,
        )

    for evaluation, where in EVALUATION_LABELS.items():
        scored = scores.loc[scores.evaluation == evaluation, "condition"]
        for condition in dict.fromkeys(scored):
            label = f"{condition} ({where})"
            out.append(pair(evaluation, "with", "without", condition, label))
            for variant in variants:
                out.append(pair(evaluation, f"with[{variant.name}]", "with", condition, label))
        out.append(pair(evaluation, "with", "base", "clean", f"clean ({where})"))
    return out


def run_table(
    factory: ModelFactory,
    data: MultiModalData,
    mode_names: list[str],
    config: TableConfig,
    variants: list[Variant] | None = None,
    on_seed: SeedCallback | None = None,
    baselines: Sequence[Baseline] = (),
) -> TableResult:
    """Experiment 1 over ``config.seeds``: returns scores, diagnostics and paired verdicts.

    ``baselines`` are further bare networks trained like ``base`` (scored, not compared).

    ``on_seed(seed_data, outcome)`` is called after each seed with its trained models, so
    further analyses (attention versus noise, total energy, ...) reuse them.
    """
    variants = list(variants or [])
    scores: list[dict[str, Any]] = []
    diagnostics: list[dict[str, Any]] = []
    bar = tqdm(config.seeds, desc="seeds", disable=not config.progress)
    for seed in bar:
        seed_data = config.prepare(data, mode_names, seed)
        outcome = run_seed(factory, seed_data, config, variants, baselines=baselines)
        scores += outcome.scores
        diagnostics += outcome.diagnostics
        if on_seed is not None:
            on_seed(seed_data, outcome)
    frame = pd.DataFrame(scores)
    metric = "f1" if data.task == "binary" else "accuracy"
    return TableResult(
        frame,
        pd.DataFrame(diagnostics),
        _comparisons(frame, variants),
        metric,
        list(mode_names),
    )
