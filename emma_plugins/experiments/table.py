"""Experiment 1 (table 6.2): base, without and with EMMA on clean and one-mode-noisy data.

Several seeds, every model of a seed on the same splits and corruptions, thresholds and
early stopping on validation data only. Two evaluations: the thesis' own (the corrupted
50/25/25 test split, each part scored separately) and a lower-variance one (the whole
test split once per condition, averaged over several noise draws).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import MultiModalData
from ..evaluation.stats import PairedComparison, compare
from ..model import EmmaModel
from ..training.annealing import ColdnessAnnealing
from ..training.loop import FitConfig
from ..training.loss import ClassificationLoss
from ..training.stages import train_base, train_with, train_without
from .protocol import SeedData, choose_threshold, noisy_copy, prepare_seed, score

ModelFactory = Callable[[Mapping[str, Any] | None, int], EmmaModel]
"""``factory(attention_patch, seed) -> EmmaModel``; a patch of ``None`` means no attention."""


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


def _fit_config(config: TableConfig, seed: int, epochs: int) -> FitConfig:
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


def _conditions(mode_names: list[str]) -> list[str]:
    return ["clean", *[f"{name}_noisy" for name in mode_names]]


def _evaluate(
    model: nn.Module, data: SeedData, threshold: float, config: TableConfig
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    names, test, group = data.mode_names, data.mixed["test"], data.mixed_group["test"]
    for g, condition in enumerate(_conditions(names)):
        part = test.take(torch.nonzero(group == g).squeeze(1))
        rows.append(
            {
                "evaluation": "thesis_split",
                "condition": condition,
                "value": score(model, part, threshold),
            }
        )
    clean = data.clean["test"]
    rows.append(
        {"evaluation": "full_test", "condition": "clean", "value": score(model, clean, threshold)}
    )
    for i, name in enumerate(names):
        draws = [
            score(
                model,
                noisy_copy(clean, names, name, config.sigma, seed=data.seed * 1000 + 10 * i + draw),
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


def run_seed(
    factory: ModelFactory,
    data: SeedData,
    config: TableConfig,
    variants: list[Variant],
) -> SeedOutcome:
    """Train every model of one seed and score it."""
    seed = data.seed
    loss = ClassificationLoss(data.clean["train"].y, data.n_classes, balanced=config.balanced_loss)
    torch.manual_seed(seed)
    base = train_base(
        factory(None, seed),
        data.clean["train"],
        data.clean["val"],
        loss,
        _fit_config(config, seed, config.base_epochs),
    )
    trained: dict[str, tuple[EmmaModel, int, float]] = {
        "base": (base.model, base.fit.best_epoch, choose_threshold(base.model, data.clean["val"]))
    }
    without = train_without(
        base.model,
        data.mixed["train"],
        data.mixed["val"],
        loss,
        _fit_config(config, seed, config.epochs),
    )
    trained["without"] = (
        without.model,
        without.fit.best_epoch,
        choose_threshold(without.model, data.mixed["val"]),
    )
    for variant in [Variant("with"), *variants]:
        settings = config.with_overrides(variant.training)
        torch.manual_seed(seed)
        model = factory(variant.attention, seed)
        result = train_with(
            model,
            base.model,
            data.clean["train"],
            data.mixed["train"],
            data.mixed["val"],
            loss,
            _fit_config(settings, seed, settings.epochs),
            anneal=_annealing(settings),
        )
        name = variant.name if variant.name == "with" else f"with[{variant.name}]"
        trained[name] = (
            result.model,
            result.fit.best_epoch,
            choose_threshold(result.model, data.mixed["val"]),
        )
    scores, diagnostics = [], []
    for name, (trained_model, best_epoch, threshold) in trained.items():
        for row in _evaluate(trained_model, data, threshold, config):
            scores.append({"seed": seed, "model": name, **row})
        diagnostics.append(
            {
                "seed": seed,
                "model": name,
                "threshold": threshold,
                **_diagnostics(trained_model, best_epoch),
            }
        )
    models = {name: model for name, (model, _, _) in trained.items()}
    thresholds = {name: threshold for name, (_, _, threshold) in trained.items()}
    return SeedOutcome(scores, diagnostics, models, thresholds)


def _comparisons(
    scores: pd.DataFrame, variants: list[Variant], mode_names: list[str]
) -> list[PairedComparison]:
    out: list[PairedComparison] = []

    def values(evaluation: str, model: str, condition: str) -> list[float]:
        rows = scores[
            (scores.evaluation == evaluation)
            & (scores.model == model)
            & (scores.condition == condition)
        ].sort_values("seed")
        return rows["value"].tolist()

    for evaluation in ("thesis_split", "full_test"):
        where = "thesis split" if evaluation == "thesis_split" else "full test"
        for condition in _conditions(mode_names):
            label = f"{condition} ({where})"
            out.append(
                compare(
                    values(evaluation, "with", condition),
                    values(evaluation, "without", condition),
                    a="with",
                    b="without",
                    condition=label,
                )
            )
            for variant in variants:
                name = f"with[{variant.name}]"
                out.append(
                    compare(
                        values(evaluation, name, condition),
                        values(evaluation, "with", condition),
                        a=name,
                        b="with",
                        condition=label,
                    )
                )
        out.append(
            compare(
                values(evaluation, "with", "clean"),
                values(evaluation, "base", "clean"),
                a="with",
                b="base",
                condition=f"clean ({where})",
            )
        )
    return out


def run_table(
    factory: ModelFactory,
    data: MultiModalData,
    mode_names: list[str],
    config: TableConfig,
    variants: list[Variant] | None = None,
    on_seed: SeedCallback | None = None,
) -> TableResult:
    """Experiment 1 over ``config.seeds``: returns scores, diagnostics and paired verdicts.

    ``on_seed(seed_data, outcome)`` is called after each seed with its trained models, so
    further analyses (attention versus noise, total energy, ...) reuse them.
    """
    variants = list(variants or [])
    scores: list[dict[str, Any]] = []
    diagnostics: list[dict[str, Any]] = []
    bar = tqdm(config.seeds, desc="seeds", disable=not config.progress)
    for seed in bar:
        seed_data = prepare_seed(
            data, mode_names, seed, sigma=config.sigma, clean_fraction=config.clean_fraction
        )
        outcome = run_seed(factory, seed_data, config, variants)
        scores += outcome.scores
        diagnostics += outcome.diagnostics
        if on_seed is not None:
            on_seed(seed_data, outcome)
    frame = pd.DataFrame(scores)
    metric = "f1" if data.task == "binary" else "accuracy"
    return TableResult(
        frame,
        pd.DataFrame(diagnostics),
        _comparisons(frame, variants, mode_names),
        metric,
        list(mode_names),
    )
