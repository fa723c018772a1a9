"""What a Dask worker builds for each command (`emma_lab.cluster`): the grid's trainer, one
``emma run`` seed, one ``emma bench`` seed.

A workload is plain values (the spec, the data directory, the settings' fingerprint), so it
travels to the workers once; `build` runs there and loads the data from the spec's data
section, then refuses data that differ from the driver's (a worker with another data
directory would otherwise produce records that do not belong together).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import torch

from emma_lab.experiments.comparison import Experiment, SeedOutcome, run_seed
from emma_lab.grid.search import GridJob, GridTrainer, fingerprint
from emma_lab.robustness.methods import MethodTrainer
from emma_lab.robustness.run import load_bench_data
from emma_lab.robustness.run import run_seed as run_bench_seed
from emma_lab.robustness.suite import BenchSpec
from emma_plugins.assembly.builder import build
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.core.errors import EmmaError
from emma_plugins.deploy.data import load_spec_data, select_modes
from emma_plugins.sources import MultiModalData
from emma_plugins.spec import parse_spec


def _key(*values: Any) -> str:
    payload = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def data_shape(data: MultiModalData) -> str:
    """The data set's name, rows and columns, as a fingerprint."""
    return _key(data.name, len(data), [str(c) for c in data.features.columns])


def require_data_section(spec: dict[str, Any]) -> None:
    """Workers load the data from the spec: refuse a spec without a data section."""
    if not spec.get("data"):
        raise EmmaError(
            "--scheduler: Dask workers load the data from the spec's data section, and "
            "this spec has none (add e.g. data: {dataset: {kind: breast_cancer}})."
        )


def _check_same(found: str, expected: str, data: MultiModalData, data_dir: str | None) -> None:
    if found != expected:
        raise EmmaError(
            f"a Dask worker loaded the data set {data.name!r} ({len(data)} samples) from the "
            f"spec with data directory {data_dir or '(its default)'}, and it differs from the "
            "driver's: the records would not belong together. Give the workers the same data "
            "(--data-dir on a shared file system)."
        )


@dataclass(frozen=True)
class GridWorkload:
    """``emma grid``: every worker keeps one `GridTrainer`."""

    spec: dict[str, Any]
    data_dir: str | None
    fingerprint: str
    stack: bool = True

    def __post_init__(self) -> None:
        require_data_section(self.spec)

    @property
    def key(self) -> str:
        return _key(self.spec, self.data_dir, self.fingerprint, self.stack)

    def build(self) -> GridTrainer:
        spec = parse_spec(self.spec)
        data = select_modes(load_spec_data(spec, self.data_dir), spec)
        _check_same(fingerprint(spec, data), self.fingerprint, data, self.data_dir)
        return GridTrainer(GridJob(self.spec, data, self.data_dir, self.stack))


def outcome_record(outcome: SeedOutcome) -> dict[str, Any]:
    """A seed's outcome as plain data: the models as their specs and weights."""
    return {
        "scores": outcome.scores,
        "diagnostics": outcome.diagnostics,
        "thresholds": outcome.thresholds,
        "models": {
            name: (model.spec.to_dict(), {k: v.cpu() for k, v in model.state_dict().items()})
            for name, model in outcome.models.items()
        },
    }


def outcome_of(record: dict[str, Any]) -> SeedOutcome:
    """`outcome_record` back into a `SeedOutcome`, the models rebuilt from their specs."""
    models: dict[str, EmmaModel] = {}
    for name, (spec, state) in record["models"].items():
        with torch.random.fork_rng(devices=[]):  # loaded weights: leave torch's RNG be
            model = build(parse_spec(spec))
        model.load_state_dict(state)
        models[name] = model.eval()
    return SeedOutcome(record["scores"], record["diagnostics"], models, record["thresholds"])


class _RunSeeds:
    def __init__(self, experiment: Experiment, data: MultiModalData) -> None:
        self.experiment, self.data = experiment, data

    def run(self, task: tuple[Any, ...]) -> dict[str, Any]:
        (_, seed) = task
        outcome = run_seed(self.experiment, self.experiment.prepare(self.data, seed))
        return {"seed": seed, **outcome_record(outcome)}


@dataclass(frozen=True)
class RunWorkload:
    """``emma run``: a task ``("seed", k)`` trains and scores every model of seed k."""

    spec: dict[str, Any]
    data_dir: str | None
    shape: str
    stack: bool = True

    def __post_init__(self) -> None:
        require_data_section(self.spec)

    @property
    def key(self) -> str:
        return _key(self.spec, self.data_dir, self.shape, self.stack)

    def build(self) -> _RunSeeds:
        spec = parse_spec(self.spec)
        data = select_modes(load_spec_data(spec, self.data_dir), spec)
        _check_same(data_shape(data), self.shape, data, self.data_dir)
        experiment = Experiment.from_spec(spec, progress=False, stack=self.stack, device="cpu")
        return _RunSeeds(experiment, data)


class _BenchSeeds:
    def __init__(self, trainer: MethodTrainer, experiment: Experiment, data: Any) -> None:
        self.trainer, self.experiment, self.data = trainer, experiment, data

    def run(self, task: tuple[Any, ...]) -> dict[str, Any]:
        (_, seed) = task
        records = run_bench_seed(self.trainer, self.experiment.prepare(self.data, seed))
        return {"seed": seed, "validation": records.validation, "scores": records.scores}


@dataclass(frozen=True)
class BenchWorkload:
    """``emma bench robustness``: a task ``("seed", k)`` trains and scores every method."""

    bench: dict[str, Any]
    data_dir: str | None
    max_samples: int | None
    shape: str
    stack: bool = True

    def __post_init__(self) -> None:
        require_data_section(BenchSpec.model_validate(self.bench).spec)

    @property
    def key(self) -> str:
        return _key(self.bench, self.data_dir, self.max_samples, self.shape, self.stack)

    def build(self) -> _BenchSeeds:
        bench = BenchSpec.model_validate(self.bench)
        data = load_bench_data(bench, self.data_dir, max_samples=self.max_samples)
        _check_same(data_shape(data), self.shape, data, self.data_dir)
        trainer = MethodTrainer(bench, stack=self.stack)
        experiment = Experiment.from_spec(
            trainer.spec, include_emma=False, variants=[], baselines=[], device="cpu"
        )
        return _BenchSeeds(trainer, experiment, data)


__all__ = [
    "BenchWorkload",
    "GridWorkload",
    "RunWorkload",
    "data_shape",
    "outcome_of",
    "outcome_record",
    "require_data_section",
]
