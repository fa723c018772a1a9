"""Experiment 1 (table 6.2): early fusion, noise augmentation and EMMA on clean and
one-mode-noisy data (the thesis' base, model-without and model-with).

Several seeds, every model of a seed on the same splits and corruptions, thresholds and
early stopping on validation data only. Two evaluations: the thesis' own (the corrupted
50/25/25 test split, each part scored separately) and a lower-variance one (the whole
test split once per condition, averaged over several noise draws).

Every setting is read from the validated spec: training settings from its ``training``
section (`emma_plugins.training.settings`), seeds and evaluation settings from its
``evaluation`` section. Each model has its own spec, derived once from the experiment's
spec by typed overrides (`Experiment.from_spec`).

Every model of every seed trains and is scored on the spec's ``training.device``
(`emma_plugins.training.devices.resolve_device`; ``emma run --device`` sets it): each
seed's tensors are moved there once (`SeedData.to`), and each model is built on the CPU
(the same initial weights on every device) and moved there. Corruption noise is drawn on
the CPU from its seed and moved; scores come back to the CPU for the metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from emma_lab.experiments.protocol import (
    SeedData,
    choose_threshold,
    corrupted_copy,
    prepare_seed,
    score,
)
from emma_lab.metrics.stats import PairedComparison, compare
from emma_lab.spec import (
    EARLY_FUSION,
    EMMA,
    NOISE_AUGMENTATION,
    bare_spec,
    emma_model_spec,
    evaluation_of,
)
from emma_plugins.assembly.builder import build
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.corruptions import CorruptionScheme, MissingMode
from emma_plugins.sources import MultiModalData
from emma_plugins.sources.splits import TRAIN_FRACTION
from emma_plugins.spec import EmmaSpec
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.devices import resolve_device
from emma_plugins.training.loop import FitResult
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.selection import ThresholdRule
from emma_plugins.training.settings import coldness_annealing, fit_config, mode_corruption
from emma_plugins.training.stacked import fit_networks
from emma_plugins.training.stages import prepare_with, train_base, train_without, with_config


@dataclass(frozen=True)
class Variant:
    """An ``emma`` model: its name and its spec (the experiment's spec with its overrides)."""

    name: str
    spec: EmmaSpec


@dataclass(frozen=True)
class Baseline:
    """Another bare network trained like ``early_fusion`` on clean data, e.g. the original code's
    IP-only network (``network: {reads: [0]}``): its name and its spec."""

    name: str
    spec: EmmaSpec


@dataclass(frozen=True)
class Experiment:
    """What experiment 1 runs, derived from a validated spec in one place (`from_spec`).

    ``spec`` holds the settings (training, corruption, evaluation); ``base`` is the bare
    network's spec (``early_fusion``); ``variants`` the specs of the models with EMMA, the
    spec's own (``emma``) first; ``baselines`` further bare networks. ``device`` is where
    every seed's tensors and models go (`from_spec`: the spec's ``training.device``).
    ``stack``: a seed's models with EMMA train as one stacked model where they can
    (`emma_plugins.training.stacked.fit_networks`; the same results, faster).
    """

    spec: EmmaSpec
    base: EmmaSpec
    variants: tuple[Variant, ...]
    baselines: tuple[Baseline, ...] = ()
    seeds: tuple[int, ...] = ()
    progress: bool = True
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    stack: bool = True

    @classmethod
    def from_spec(
        cls,
        spec: EmmaSpec,
        *,
        seeds: Sequence[int] | None = None,
        progress: bool = True,
        include_emma: bool = True,
        variants: Sequence[Variant] | None = None,
        baselines: Sequence[Baseline] | None = None,
        device: torch.device | str | None = None,
        stack: bool = True,
    ) -> Experiment:
        """The models of ``spec``: early fusion, emma (unless ``include_emma`` is false) and
        the ``evaluation`` section's variants and baselines (or those given), over its
        seeds (or ``seeds``), on ``device`` (default: the spec's ``training.device``; a
        device this machine lacks is a `DeviceError`)."""
        evaluation = evaluation_of(spec)
        if variants is None:
            variants = [Variant(v.name, v.spec_of(spec)) for v in evaluation.variants]
        if baselines is None:
            baselines = [Baseline(b.name, b.spec_of(spec)) for b in evaluation.baselines]
        own = [Variant(EMMA, emma_model_spec(spec))] if include_emma else []
        return cls(
            spec=spec,
            base=bare_spec(spec),
            variants=(*own, *variants),
            baselines=tuple(baselines),
            seeds=tuple(evaluation.seeds if seeds is None else seeds),
            progress=progress,
            device=resolve_device(spec.resolved_training.device)
            if device is None
            else torch.device(device),
            stack=stack,
        )

    @property
    def mode_names(self) -> list[str]:
        return list(self.spec.mode_names)

    def prepare(self, data: MultiModalData, seed: int) -> SeedData:
        """One seed's splits and corrupted mixes (`prepare_seed` with the spec's corruption),
        prepared on the CPU and moved to the experiment's device."""
        data_spec = self.spec.data
        return prepare_seed(
            data,
            self.mode_names,
            seed,
            corruption=self.spec.resolved_training.corruption,
            train_fraction=data_spec.train_fraction if data_spec is not None else TRAIN_FRACTION,
            threshold_rule=evaluation_of(self.spec).threshold,
        ).to(self.device)


def seeded_model(spec: EmmaSpec, seed: int, device: torch.device | str | None = None) -> EmmaModel:
    """The model of ``spec`` for one seed: estimators whose kind has a ``seed`` parameter
    follow the experiment seed, so that seeds differ in the estimators too.

    Built on the CPU (the same initial weights on every device), then moved to ``device``
    (default: the spec's ``training.device``)."""
    modes = [
        mode.model_copy(update={"estimator": mode.estimator.model_copy(update={"seed": seed})})
        if "seed" in type(mode.estimator).model_fields
        else mode
        for mode in spec.modes
    ]
    place = resolve_device(spec.resolved_training.device) if device is None else device
    return build(spec.model_copy(update={"modes": modes})).to(place)


@dataclass
class SeedOutcome:
    """Everything one seed produced: score rows, diagnostics, the trained models and their
    validation thresholds (by model name: early_fusion, noise_augmentation, emma,
    emma[variant])."""

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
    model: nn.Module, data: SeedData, threshold: float, spec: EmmaSpec
) -> list[dict[str, Any]]:
    names = data.mode_names
    corruption = spec.resolved_training.corruption
    evaluation = evaluation_of(spec)
    rows: list[dict[str, Any]] = [
        {"evaluation": "thesis_split", "condition": condition, "value": value}
        for condition, value in scores_by_part(model, data, "test", threshold).items()
    ]
    clean = data.clean["test"]
    rows.append(
        {"evaluation": "full_test", "condition": "clean", "value": score(model, clean, threshold)}
    )
    for i, name in enumerate(names):
        scheme = CorruptionScheme.uniform({name: mode_corruption(corruption, name)})
        draws = [
            score(
                model,
                corrupted_copy(clean, names, scheme, seed=data.seed * 1000 + 10 * i + draw),
                threshold,
            )
            for draw in range(evaluation.noise_draws)
        ]
        rows.append(
            {
                "evaluation": "full_test",
                "condition": f"{name}_noisy",
                "value": float(np.mean(draws)),
            }
        )
    if evaluation.missing_modes:
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

    @classmethod
    def from_fit(
        cls,
        model: EmmaModel,
        fit: FitResult,
        val: TensorSplit,
        rule: ThresholdRule = "roc_corner",
    ) -> TrainedModel:
        """``model`` as ``fit`` left it, with its threshold chosen on ``val`` by ``rule``."""
        threshold = choose_threshold(model, val, rule)
        return cls(model, fit.best_epoch, threshold, fit.best_val_loss)


def seed_loss(data: SeedData, spec: EmmaSpec) -> ClassificationLoss:
    """The task loss of one seed (class weights from that seed's training split)."""
    balanced = spec.resolved_training.balanced_loss
    return ClassificationLoss(data.clean["train"].y, data.n_classes, balanced=balanced)


def train_base_model(spec: EmmaSpec, data: SeedData, loss: ClassificationLoss) -> TrainedModel:
    """``early_fusion``: the bare network of ``spec`` on clean data (``training.base_epochs``); its
    threshold from clean validation data. A baseline's spec gives another network."""
    training = spec.resolved_training
    torch.manual_seed(data.seed)
    base = train_base(
        seeded_model(spec, data.seed, data.device),
        data.clean["train"],
        data.clean["val"],
        loss,
        fit_config(training, seed=data.seed, epochs=training.base_epochs),
    )
    return TrainedModel.from_fit(base.model, base.fit, data.clean["val"], data.threshold_rule)


def train_without_model(
    base: EmmaModel, spec: EmmaSpec, data: SeedData, loss: ClassificationLoss
) -> TrainedModel:
    """``noise_augmentation``: early fusion's weights fine-tuned on the corrupted mix
    (``training.epochs``)."""
    training = spec.resolved_training
    without = train_without(
        base,
        data.mixed["train"],
        data.mixed["val"],
        loss,
        fit_config(training, seed=data.seed, epochs=training.epochs),
    )
    return TrainedModel.from_fit(without.model, without.fit, data.mixed["val"], data.threshold_rule)


def variant_model_name(variant: Variant) -> str:
    """``emma`` for the spec's own model with EMMA, ``emma[name]`` for a variant."""
    return variant.name if variant.name == EMMA else f"{EMMA}[{variant.name}]"


def train_variant(
    variant: Variant,
    data: SeedData,
    base: EmmaModel,
    loss: ClassificationLoss,
    *,
    estimators_from: EmmaModel | None = None,
) -> TrainedModel:
    """The model with EMMA of ``variant.spec`` on one seed, trained with that spec's settings.

    ``estimators_from``: a model of the same seed whose fitted estimators are reused.
    """
    (item,) = train_variants([variant], data, base, loss, estimators_from=estimators_from)
    return item


def train_variants(
    variants: Sequence[Variant],
    data: SeedData,
    base: EmmaModel,
    loss: ClassificationLoss,
    *,
    estimators_from: EmmaModel | None = None,
    stack: bool = True,
) -> list[TrainedModel]:
    """The models with EMMA of ``variants`` on one seed, each with its spec's settings; the
    first fits the seed's estimators (unless ``estimators_from`` has them) and the others
    reuse them. With ``stack`` those that can train as one stacked model (the same result
    as one at a time, `emma_plugins.training.stacked`)."""
    models, configs = [], []
    for variant in variants:
        training = variant.spec.resolved_training
        torch.manual_seed(data.seed)
        model = seeded_model(variant.spec, data.seed, data.device)
        anneal = coldness_annealing(training)
        prepare_with(
            model, base, data.clean["train"], anneal=anneal is not None,
            estimators_from=estimators_from,
        )  # fmt: skip
        estimators_from = estimators_from or model
        config = fit_config(training, seed=data.seed, epochs=training.epochs)
        models.append(model)
        configs.append(with_config(config, anneal))
    fits = fit_networks(models, data.mixed["train"], data.mixed["val"], loss, configs, stack=stack)
    return [
        TrainedModel.from_fit(model, result, data.mixed["val"], data.threshold_rule)
        for model, result in zip(models, fits, strict=True)
    ]


def score_models(
    trained: Mapping[str, TrainedModel], data: SeedData, spec: EmmaSpec
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Test score rows (both evaluations) and diagnostics of every named model of a seed."""
    scores, diagnostics = [], []
    for name, item in trained.items():
        for row in _evaluate(item.model, data, item.threshold, spec):
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


def run_seed(experiment: Experiment, data: SeedData) -> SeedOutcome:
    """Train every model of one seed and score it.

    Stage 1 is fitted once per seed and shared by every model with EMMA, since no variant
    changes the estimators.
    """
    spec = experiment.spec
    loss = seed_loss(data, spec)
    base = train_base_model(experiment.base, data, loss)
    trained = {
        EARLY_FUSION: base,
        NOISE_AUGMENTATION: train_without_model(base.model, spec, data, loss),
    }
    for baseline in experiment.baselines:
        trained[baseline.name] = train_base_model(baseline.spec, data, loss)
    variants = experiment.variants
    items = train_variants(variants, data, base.model, loss, stack=experiment.stack)
    trained |= {variant_model_name(v): item for v, item in zip(variants, items, strict=True)}
    scores, diagnostics = score_models(trained, data, spec)
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
            out.append(pair(evaluation, EMMA, NOISE_AUGMENTATION, condition, label))
            for variant in variants:
                name = variant_model_name(variant)
                out.append(pair(evaluation, name, EMMA, condition, label))
        out.append(pair(evaluation, EMMA, EARLY_FUSION, "clean", f"clean ({where})"))
    return out


class SeedKeeper(Protocol):
    """Where a run keeps its finished seeds (`emma_lab.experiments.seeds.SeedStore`)."""

    def load(self, seed: int) -> SeedOutcome | None: ...

    def save(self, seed: int, outcome: SeedOutcome) -> None: ...


#: Trains the given seeds elsewhere (a Dask cluster), handing each finished seed's outcome
#: to the callback as it arrives: ``remote(seeds, collect)``.
RemoteSeeds = Callable[[list[int], Callable[[int, SeedOutcome], None]], None]


def run_table(
    experiment: Experiment,
    data: MultiModalData,
    on_seed: SeedCallback | None = None,
    *,
    keeper: SeedKeeper | None = None,
    remote: RemoteSeeds | None = None,
) -> TableResult:
    """Experiment 1 over ``experiment.seeds``: returns scores, diagnostics and paired
    verdicts. Baselines are scored, not compared.

    ``on_seed(seed_data, outcome)`` is called after each seed, in seed order, with its
    trained models, so further analyses (attention versus noise, total energy, ...) reuse
    them. A ``keeper`` saves every finished seed and gives back those an earlier run
    finished (resume). ``remote`` trains the seeds still to do elsewhere first (each kept
    as soon as it arrives); the rest train here.
    """
    scores: list[dict[str, Any]] = []
    diagnostics: list[dict[str, Any]] = []
    finished: dict[int, SeedOutcome] = {}
    for seed in experiment.seeds if keeper is not None else ():
        loaded = keeper.load(seed) if keeper is not None else None
        if loaded is not None:
            finished[seed] = loaded

    def collect(seed: int, outcome: SeedOutcome) -> None:
        finished[seed] = outcome
        if keeper is not None:
            keeper.save(seed, outcome)

    pending = [seed for seed in experiment.seeds if seed not in finished]
    if remote is not None and pending:
        remote(pending, collect)
    bar = tqdm(list(experiment.seeds), desc="seeds", disable=not experiment.progress)
    for seed in bar:
        seed_data = experiment.prepare(data, seed)
        outcome = finished.get(seed)
        if outcome is None:
            outcome = run_seed(experiment, seed_data)
            collect(seed, outcome)
        else:
            outcome.models = {k: m.to(seed_data.device) for k, m in outcome.models.items()}
        scores += outcome.scores
        diagnostics += outcome.diagnostics
        if on_seed is not None:
            on_seed(seed_data, outcome)
    frame = pd.DataFrame(scores)
    metric = "f1" if data.task == "binary" else "accuracy"
    variants = [v for v in experiment.variants if v.name != EMMA]
    return TableResult(
        frame,
        pd.DataFrame(diagnostics),
        _comparisons(frame, variants),
        metric,
        experiment.mode_names,
    )
