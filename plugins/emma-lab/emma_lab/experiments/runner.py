"""From a spec to results: load the data, build the models per seed, run, write the outputs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emma_lab.analyses import Analysis, fan_out, standard_analyses
from emma_lab.experiments.comparison import (
    Experiment,
    SeedCallback,
    SeedOutcome,
    TableResult,
    run_table,
)
from emma_lab.experiments.protocol import SeedData
from emma_lab.experiments.sweeps import CorruptionSweep
from emma_lab.report.atomic import write_atomic
from emma_lab.report.table_report import write_table_outputs
from emma_lab.spec import EMMA, evaluation_of
from emma_plugins.training.threads import torch_threads
from emma_plugins.assembly.checkpoint import save
from emma_plugins.core.errors import SpecError
from emma_plugins.core.plugins import get_registry
from emma_plugins.rundir import inside
from emma_plugins.sources import MultiModalData, resolve_data_dir
from emma_plugins.spec import EmmaSpec, resolve_data_path
from emma_plugins.training.settings import describe_corruption

#: Subdirectory of the output directory holding the analyses' CSV files and figures.
ANALYSES_DIR = "analyses"


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
        class_names=data.class_names,
    )


def write_json(path: Path, payload: Any) -> Path:
    return write_atomic(
        path, lambda h: h.write(json.dumps(payload, indent=2, default=str).encode())
    )


CHECKPOINTS_DIR = "checkpoints"


def checkpoint_first_seed(directory: Path) -> SeedCallback:
    """Save every trained model of the first seed as a loadable checkpoint
    (``<directory>/seed<k>-<model>``), so a run leaves its models behind, not only scores.
    Model names come from the spec: a folder that would leave ``directory`` is refused."""
    done: list[int] = []

    def save_models(data: SeedData, outcome: SeedOutcome) -> None:
        if done:
            return
        for name, model in outcome.models.items():
            save(model, inside(directory, f"seed{data.seed}-{name}"))
        done.append(data.seed)

    return save_models


def run_table_experiment(
    experiment: Experiment,
    data: MultiModalData,
    out_dir: str | Path,
    *,
    title: str = "Robustness to one failing mode",
    analyses: bool | Sequence[Analysis] = True,
) -> tuple[TableResult, dict[str, Path]]:
    """Experiment 1: run it and write results, figures, report and resolved spec.

    ``analyses`` (``True``: `standard_analyses`; or a list of collectors) run on each seed's
    trained models; their CSV files and figures go to ``out_dir/analyses`` and their
    sections are appended to the report.
    """
    spec = experiment.spec
    data = select_modes(data, spec)
    if analyses is True:
        sweeps = [CorruptionSweep.from_spec(s) for s in evaluation_of(spec).sweeps]
        collectors: list[Analysis] = standard_analyses(spec.mode_names, sweeps=sweeps)
    else:
        collectors = list(analyses) if analyses is not False else []
    out = Path(out_dir)
    result = run_table(
        experiment,
        data,
        on_seed=fan_out([*collectors, checkpoint_first_seed(out / CHECKPOINTS_DIR)]),
    )
    paths: dict[str, Path] = {}
    for collector in collectors:
        for key, path in collector.write(out / ANALYSES_DIR).items():
            paths[f"{collector.name}_{key}"] = path
    training = spec.resolved_training
    corruption = training.corruption
    evaluation = evaluation_of(spec)
    variants = [v.name for v in experiment.variants if v.name != EMMA]
    setup = {
        "data set": f"{data.name} ({len(data)} samples, modes: "
        + ", ".join(f"{m} [{len(c)}]" for m, c in data.modes.items())
        + ")",
        "seeds": list(experiment.seeds),
        "training corruption": f"{corruption.clean_fraction:.0%} clean, the rest split evenly "
        "over "
        + (
            f"one failing mode each ({describe_corruption(corruption, spec.mode_names)})"
            if corruption.per_mode
            else f"one-mode Gaussian noise sigma={corruption.sigma}"
        ),
        "epochs (base / stage 2)": f"{training.base_epochs} / {training.epochs}",
        "regularizers": f"lambda_c={training.lambda_c}, lambda_e={training.lambda_e}",
        "annealing": training.anneal is not None,
        "variants": ", ".join(variants) or "none",
    }
    settings = {
        "seeds": list(experiment.seeds),
        "noise_draws": evaluation.noise_draws,
        "missing_modes": evaluation.missing_modes,
        "training": training.model_dump(mode="json"),
    }
    paths |= write_table_outputs(
        result,
        out,
        title=title,
        setup=setup,
        extra={"config": settings},
        extra_sections=[collector.markdown(ANALYSES_DIR) for collector in collectors],
    )
    paths["spec"] = write_json(out / "spec.json", spec.to_dict())
    return result, paths


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
    kind = spec.data.dataset.kind
    if data.task not in ("binary", "multiclass"):
        raise SpecError(
            f"data set {kind!r} is a {data.task} point set; experiments need "
            "a classification data set with targets."
        )
    expected = 1 if data.task == "binary" else data.n_classes
    if spec.out_features != expected:  # checked before anything trains: run, grid and bench
        why = (
            "is a binary task, so the network gives one logit (its metric is F1 of class 1)"
            if data.task == "binary"
            else f"has {data.n_classes} classes, so the network gives one logit per class"
        )
        raise SpecError(
            f"out_features: data set {kind!r} {why}: set out_features: {expected}, "
            f"not {spec.out_features}"
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
    experiment = Experiment.from_spec(spec, seeds=seeds, progress=progress)
    data = load_data(spec, data_dir)
    with torch_threads(spec.resolved_training.threads):
        return run_table_experiment(
            experiment, data, out_dir, analyses=evaluation_of(spec).analyses
        )
