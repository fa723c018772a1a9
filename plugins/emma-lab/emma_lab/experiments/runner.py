"""From a spec to results: load the data, build the models per seed, run, write the outputs."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from emma_lab.analyses import Analysis, fan_out, standard_analyses
from emma_lab.experiments.comparison import (
    Experiment,
    RemoteSeeds,
    SeedOutcome,
    TableResult,
    run_table,
)
from emma_lab.experiments.seeds import CHECKPOINTS_DIR, SeedStore
from emma_lab.experiments.sweeps import CorruptionSweep
from emma_lab.report.atomic import write_atomic
from emma_lab.report.table_report import write_table_outputs
from emma_lab.spec import EMMA, evaluation_of
from emma_plugins.deploy.data import load_spec_data, select_modes
from emma_plugins.rundir import fingerprint
from emma_plugins.sources import MultiModalData
from emma_plugins.spec import EmmaSpec
from emma_plugins.training.settings import describe_corruption
from emma_plugins.training.threads import torch_threads

#: Subdirectory of the output directory holding the analyses' CSV files and figures.
ANALYSES_DIR = "analyses"


def write_json(path: Path, payload: Any) -> Path:
    return write_atomic(
        path, lambda h: h.write(json.dumps(payload, indent=2, default=str).encode())
    )


def run_table_experiment(
    experiment: Experiment,
    data: MultiModalData,
    out_dir: str | Path,
    *,
    title: str = "Robustness to one failing mode",
    analyses: bool | Sequence[Analysis] = True,
    resume: bool = False,
    remote: RemoteSeeds | None = None,
) -> tuple[TableResult, dict[str, Path]]:
    """Experiment 1: run it and write results, figures, report and resolved spec.

    ``analyses`` (``True``: `standard_analyses`; or a list of collectors) run on each seed's
    trained models; their CSV files and figures go to ``out_dir/analyses`` and their
    sections are appended to the report. Every seed's models are kept in
    ``out_dir/checkpoints`` (`SeedStore`); with ``resume`` the seeds an earlier run
    finished are loaded from there instead of trained.
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
        on_seed=fan_out(collectors),
        keeper=SeedStore(
            out / CHECKPOINTS_DIR, resume=resume, fingerprint=fingerprint(spec.to_dict())
        ),
        remote=remote,
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


def run_spec(
    spec: EmmaSpec,
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    seeds: list[int] | None = None,
    progress: bool = True,
    stack: bool = True,
    resume: bool = False,
    scheduler: str | None = None,
) -> tuple[TableResult, dict[str, Path]]:
    """Everything a spec asks for, written to ``out_dir`` (what ``emma run`` does);
    ``stack=False`` trains a seed's models with EMMA one at a time; ``resume`` loads the
    seeds an earlier run into ``out_dir`` finished; ``scheduler`` (``tcp://host:port`` or
    ``local:N``) trains the seeds on a Dask cluster whose workers load the data from the
    spec (`emma_lab.cluster`), while the analyses and the report run here."""
    experiment = Experiment.from_spec(spec, seeds=seeds, progress=progress, stack=stack)
    data = load_spec_data(spec, data_dir)
    remote = None
    if scheduler is not None:
        remote = _remote_seeds(spec, select_modes(data, spec), data_dir, scheduler, stack)
    with torch_threads(spec.resolved_training.threads):
        return run_table_experiment(
            experiment,
            data,
            out_dir,
            analyses=evaluation_of(spec).analyses,
            resume=resume,
            remote=remote,
        )


def _remote_seeds(
    spec: EmmaSpec,
    data: MultiModalData,
    data_dir: str | Path | None,
    scheduler: str,
    stack: bool,
) -> RemoteSeeds:
    """Seeds trained on a Dask cluster (dask is imported only here)."""
    from emma_lab.cluster import DaskExecutor
    from emma_lab.workloads import RunWorkload, data_shape, outcome_of

    where = None if data_dir is None else str(Path(data_dir).expanduser().absolute())
    workload = RunWorkload(spec.to_dict(), where, data_shape(data), stack)

    def remote(seeds: list[int], collect: Callable[[int, SeedOutcome], None]) -> None:
        with DaskExecutor(workload, scheduler) as executor:
            executor.run(
                [("seed", seed) for seed in seeds],
                lambda record: collect(record["seed"], outcome_of(record)),
            )

    return remote
