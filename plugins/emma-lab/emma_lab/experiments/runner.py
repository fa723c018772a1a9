"""From a spec to results: load the data, build the models per seed, run, write the outputs."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.checkpoint import save
from emma_plugins.sources import MultiModalData, resolve_data_dir
from emma_plugins.core.errors import SpecError
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.core.plugins import get_registry
from emma_lab.report.atomic import write_atomic
from emma_lab.report.table_report import write_table_outputs
from emma_lab.spec import evaluation_of
from emma_plugins.spec import EmmaSpec, TrainingSpec, parse_spec, resolve_data_path
from emma_lab.threads import torch_threads
from emma_lab.analyses import Analysis, fan_out, standard_analyses
from emma_lab.experiments.protocol import SeedData
from emma_lab.experiments.sweeps import CorruptionSweep
from emma_lab.experiments.comparison import (
    Baseline,
    ModelFactory,
    SeedCallback,
    SeedOutcome,
    TableConfig,
    TableResult,
    Variant,
    run_table,
)

#: Subdirectory of the output directory holding the analyses' CSV files and figures.
ANALYSES_DIR = "analyses"


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` merged in, recursively for nested mappings; neither is changed.

    A patch that changes a component's ``kind`` replaces the component whole, so the old
    kind's parameters do not leak into the new one.
    """
    merged = copy.deepcopy(dict(base))
    for key, value in patch.items():
        old = merged.get(key)
        same_kind = not (
            isinstance(value, Mapping)
            and "kind" in value
            and isinstance(old, Mapping)
            and old.get("kind") != value["kind"]
        )
        if isinstance(value, Mapping) and isinstance(old, Mapping) and same_kind:
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def model_factory(spec: EmmaSpec) -> ModelFactory:
    """Models of one spec: bare (``patch=None``) or with an attention patch, seeded per run.

    The estimators' ``seed`` parameter, where a kind has one, follows the experiment seed so
    that seeds differ in the estimators too.
    """
    base = spec.to_dict()
    estimators = get_registry("estimator")

    def factory(
        patch: Mapping[str, Any] | None, seed: int, network: Mapping[str, Any] | None = None
    ) -> EmmaModel:
        attention = {"enabled": False} if patch is None else {"enabled": True, **patch}
        data = deep_merge(base, {"attention": attention, "network": dict(network or {})})
        for mode in data["modes"]:
            params = estimators.get(mode["estimator"]["kind"]).params
            if "seed" in params.model_fields:
                mode["estimator"]["seed"] = seed
        return build(parse_spec(data))

    return factory


def select_modes(data: MultiModalData, spec: EmmaSpec) -> MultiModalData:
    """The data set's columns arranged as the spec's modes (by field, columns, or name)."""
    modes: dict[str, list[str]] = {}
    columns = [str(c) for c in data.features.columns]
    for mode in spec.modes:
        if mode.columns is not None:
            chosen = [columns[c] if isinstance(c, int) else str(c) for c in mode.columns]
        else:
            source = mode.field or mode.name
            if source not in data.modes:
                raise SpecError(
                    f"mode {mode.name!r}: data set {data.name!r} has no mode {source!r}; "
                    f"its modes are {', '.join(data.modes)}. Set field: or columns: on the mode."
                )
            chosen = data.modes[source]
        if len(chosen) != mode.size:
            raise SpecError(
                f"mode {mode.name!r} declares {mode.size} values per sample but the data set "
                f"gives {len(chosen)} columns for it."
            )
        modes[mode.name] = chosen
        given = (data.shapes or {}).get(mode.field or mode.name)
        shaped = len(mode.sample_shape) > 1
        if shaped and given is not None and tuple(given) != mode.sample_shape:
            raise SpecError(
                f"mode {mode.name!r} declares shape {list(mode.sample_shape)} but the data set "
                f"gives samples of shape {list(given)}; declare shape: {list(given)} (or a "
                f"flat [{mode.size}])."
            )
    used = [c for names in modes.values() for c in names]
    return MultiModalData(
        data.name,
        data.features[used],
        data.target,
        modes,
        data.task,
        data.n_classes,
        data.description,
        shapes={m.name: m.sample_shape for m in spec.modes if len(m.sample_shape) > 1} or None,
        predefined_split=data.predefined_split,
    )


def write_json(path: Path, payload: Any) -> Path:
    return write_atomic(
        path, lambda h: h.write(json.dumps(payload, indent=2, default=str).encode())
    )


CHECKPOINTS_DIR = "checkpoints"


def checkpoint_first_seed(directory: Path) -> SeedCallback:
    """Save every trained model of the first seed as a loadable checkpoint
    (``<directory>/seed<k>-<model>``), so a run leaves its models behind, not only scores."""
    done: list[int] = []

    def save_models(data: SeedData, outcome: SeedOutcome) -> None:
        if done:
            return
        for name, model in outcome.models.items():
            save(model, directory / f"seed{data.seed}-{name}")
        done.append(data.seed)

    return save_models


def run_table_experiment(
    spec: EmmaSpec,
    data: MultiModalData,
    config: TableConfig,
    out_dir: str | Path,
    *,
    variants: list[Variant] | None = None,
    title: str = "Robustness to one failing mode",
    analyses: bool | Sequence[Analysis] = True,
    baselines: Sequence[Baseline] = (),
) -> tuple[TableResult, dict[str, Path]]:
    """Experiment 1 from a spec: run it and write results, figures, report and resolved spec.

    ``analyses`` (``True``: `standard_analyses`; or a list of collectors) run on each seed's
    trained models; their CSV files and figures go to ``out_dir/analyses`` and their
    sections are appended to the report.
    """
    data = select_modes(data, spec)
    if analyses is True:
        sweeps = [
            CorruptionSweep.from_spec(s) for s in evaluation_of(spec).sweeps
        ]
        collectors: list[Analysis] = standard_analyses(spec.mode_names, sweeps=sweeps)
    else:
        collectors = list(analyses) if analyses is not False else []
    out = Path(out_dir)
    result = run_table(
        model_factory(spec),
        data,
        list(spec.mode_names),
        config,
        variants,
        on_seed=fan_out([*collectors, checkpoint_first_seed(out / CHECKPOINTS_DIR)]),
        baselines=baselines,
    )
    paths: dict[str, Path] = {}
    for collector in collectors:
        for key, path in collector.write(out / ANALYSES_DIR).items():
            paths[f"{collector.name}_{key}"] = path
    setup = {
        "data set": f"{data.name} ({len(data)} samples, modes: "
        + ", ".join(f"{m} [{len(c)}]" for m, c in data.modes.items())
        + ")",
        "seeds": config.seeds,
        "training corruption": f"{config.clean_fraction:.0%} clean, the rest split evenly over "
        + (
            f"one failing mode each ({config.describe_corruption(list(spec.mode_names))})"
            if config.corruptions
            else f"one-mode Gaussian noise sigma={config.sigma}"
        ),
        "epochs (base / stage 2)": f"{config.base_epochs} / {config.epochs}",
        "regularizers": f"lambda_c={config.lambda_c}, lambda_e={config.lambda_e}",
        "annealing": config.anneal,
        "variants": ", ".join(v.name for v in variants or []) or "none",
    }
    paths |= write_table_outputs(
        result,
        out,
        title=title,
        setup=setup,
        extra={"config": asdict(config)},
        extra_sections=[collector.markdown(ANALYSES_DIR) for collector in collectors],
    )
    paths["spec"] = write_json(out / "spec.json", spec.to_dict())
    return result, paths


def table_config(spec: EmmaSpec, *, progress: bool = True) -> TableConfig:
    """Experiment 1's settings from the spec's training and evaluation sections."""
    training = spec.training or TrainingSpec()
    evaluation = evaluation_of(spec)
    anneal = training.anneal
    return TableConfig(
        seeds=list(evaluation.seeds),
        sigma=training.corruption.sigma,
        clean_fraction=training.corruption.clean_fraction,
        noise_draws=evaluation.noise_draws,
        base_epochs=training.base_epochs,
        epochs=training.epochs,
        batch_size=training.batch_size,
        lr=training.lr,
        patience=training.patience,
        lambda_c=training.lambda_c,
        lambda_e=training.lambda_e,
        anneal=anneal is not None,
        anneal_start=anneal.start if anneal else 1e-6,
        anneal_factor=anneal.factor if anneal else 3.0,
        balanced_loss=training.balanced_loss,
        progress=progress,
        corruptions={
            mode: {"kind": c.kind, **c.params()} for mode, c in training.corruption.per_mode.items()
        },
        missing_modes=evaluation.missing_modes,
    )


def variants_of(spec: EmmaSpec) -> list[Variant]:
    """The spec's ablations, each checked now (by building its spec) rather than mid-run."""
    variants = [
        Variant(v.name, v.attention, v.training)
        for v in evaluation_of(spec).variants
    ]
    config = table_config(spec, progress=False)
    for variant in variants:
        where = f"evaluation.variants[{variant.name!r}]"
        try:
            parse_spec(deep_merge(spec.to_dict(), {"attention": variant.attention}))
            config.with_overrides(variant.training)
        except (SpecError, ValueError) as exc:
            raise SpecError(f"{where}: {exc}") from None
    return variants


def baselines_of(spec: EmmaSpec) -> list[Baseline]:
    """The spec's extra bare networks, each checked now (by building its spec)."""
    baselines = [
        Baseline(b.name, b.network) for b in evaluation_of(spec).baselines
    ]
    for baseline in baselines:
        patch = {"attention": {"enabled": False}, "network": baseline.network}
        try:
            parse_spec(deep_merge(spec.to_dict(), patch))
        except (SpecError, ValueError) as exc:
            raise SpecError(f"evaluation.baselines[{baseline.name!r}]: {exc}") from None
    return baselines


def load_data(spec: EmmaSpec, data_dir: str | Path | None = None) -> MultiModalData:
    """The data set the spec's data section names, from its registry kind."""
    if spec.data is None:
        raise SpecError(
            "the spec has no data section: add e.g. data: {dataset: {kind: breast_cancer}} "
            "to run experiments from it."
        )
    registration = get_registry("dataset").get(spec.data.dataset.kind)
    params = spec.data.dataset.params()
    if "data_dir" in registration.params.model_fields:
        # Paths in specs are relative to the data directory (argument, else EMMA_DATA_DIR).
        root = resolve_data_dir(data_dir)
        relative = params.get("data_dir") or spec.data.data_dir
        params["data_dir"] = str(resolve_data_path(relative, root) if relative else root)
    data = registration.build(params)
    if data.task not in ("binary", "multiclass"):
        raise SpecError(
            f"data set {spec.data.dataset.kind!r} is a {data.task} point set; experiments need "
            "a classification data set with targets."
        )
    return data


def run_spec(
    spec: EmmaSpec,
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    seeds: list[int] | None = None,
    progress: bool = True,
) -> tuple[TableResult, dict[str, Path]]:
    """Everything a spec asks for, written to ``out_dir`` (what ``emma run`` does)."""
    data = load_data(spec, data_dir)
    variants = variants_of(spec)
    baselines = baselines_of(spec)
    config = table_config(spec, progress=progress)
    if seeds is not None:
        config = replace(config, seeds=list(seeds))
    threads = (spec.training or TrainingSpec()).threads
    evaluation = evaluation_of(spec)
    with torch_threads(threads):
        return run_table_experiment(
            spec,
            data,
            config,
            out_dir,
            variants=variants,
            baselines=baselines,
            analyses=evaluation.analyses,
        )
