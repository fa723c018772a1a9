"""Experiment 3 (thesis 6.3.2): the emma model's hyperparameter grid, selected on validation
only.

The original code trained each of the 125 configurations once and ranked them on the test
split itself. Here each configuration is trained once on a selection seed and ranked on
**validation data only**; the top ones are then trained again over several other seeds and
only those reruns are scored on test, each paired with noise_augmentation on the same seeds.

Ranking criterion: the validation task loss (no regularizers) of the emma model on the
corrupted validation mix, lowest first; ties go to the higher validation metric (F1 or
accuracy at the validation threshold). The loss is what early stopping already minimises,
it is continuous (a single-run F1 moves in steps of one sample), and it is comparable
across regularizer weights because the regularizers are left out of it.

Jobs run in worker processes (``spawn``), one torch thread each. Every finished job is
appended to a JSON-lines log, so an interrupted grid resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from emma_lab.experiments.comparison import (
    EVALUATION_LABELS,
    Experiment,
    TableResult,
    TrainedModel,
    Variant,
    conditions,
    run_seed,
    scores_by_part,
    seed_loss,
    seed_values,
    seeded_model,
    train_base_model,
    train_variants,
)
from emma_lab.experiments.protocol import SeedData, score
from emma_lab.grid.lifeline import die_with_parent, watch_parent
from emma_lab.joblog import JobLog
from emma_lab.metrics.stats import PairedComparison, compare
from emma_lab.spec import (
    EMMA,
    NOISE_AUGMENTATION,
    GridSpec,
    emma_model_spec,
    evaluation_of,
    grid_point_spec,
)
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.core.errors import EmmaError
from emma_plugins.deploy.data import select_modes
from emma_plugins.sources import MultiModalData
from emma_plugins.spec import EmmaSpec, parse_spec
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.stages import fit_estimators
from emma_plugins.training.threads import torch_threads

if TYPE_CHECKING:
    from emma_lab.cluster import DaskExecutor

#: How configurations are ranked (documented in the report and in docs/experiments.md).
CRITERION = (
    "validation task loss of the emma model on the corrupted validation mix (lowest first; "
    "ties: higher validation metric at the validation threshold)"
)
LOG_NAME = "grid.jsonl"


@dataclass(frozen=True)
class GridPoint:
    """One configuration of the emma model: coldness and the two regularizer weights."""

    rho: float
    lambda_e: float
    lambda_c: float

    @property
    def key(self) -> str:
        return f"rho={self.rho:g} lambda_e={self.lambda_e:g} lambda_c={self.lambda_c:g}"

    @property
    def model_name(self) -> str:
        return f"{EMMA}[{self.key}]"

    def variant(self, spec: EmmaSpec) -> Variant:
        """Model-with of ``spec`` at this configuration (`grid_point_spec`)."""
        return Variant(self.key, grid_point_spec(spec, self.rho, self.lambda_e, self.lambda_c))


def grid_points(
    rho: Sequence[float], lambda_e: Sequence[float], lambda_c: Sequence[float]
) -> list[GridPoint]:
    """Every combination, rho outermost."""
    return [GridPoint(r, e, c) for r in rho for e in lambda_e for c in lambda_c]


@dataclass(frozen=True)
class GridJob:
    """What a worker needs to train any job; plain, picklable data (spawned processes).

    ``spec`` is the validated spec as plain values; each worker validates it once.
    ``data_dir`` is where Dask workers load the data from the spec (`emma_lab.cluster`;
    ``None``: their own default); the local pool is handed ``data`` itself. ``stack``: the
    configurations of one selection job train as one stacked model.
    """

    spec: dict[str, Any]
    data: MultiModalData
    data_dir: str | None = None
    stack: bool = True


def fingerprint(spec: EmmaSpec, data: MultiModalData) -> str:
    """Identifies the settings a log's records belong to: the spec without its evaluation
    section and without the weights the grid sets, the evaluation settings that change the
    scores, and the data set's shape (not the grid's lists or seeds)."""
    model = spec.to_dict()
    model.pop("evaluation", None)
    model["training"] = spec.resolved_training.model_dump(
        mode="json", exclude={"lambda_c", "lambda_e"}
    )
    evaluation = evaluation_of(spec)
    scoring = {"noise_draws": evaluation.noise_draws, "missing_modes": evaluation.missing_modes}
    shape = [data.name, len(data), [str(c) for c in data.features.columns]]
    payload = json.dumps([model, scoring, shape], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class _SeedState:
    data: SeedData
    loss: ClassificationLoss
    base: TrainedModel
    fitted: EmmaModel


class GridTrainer:
    """Runs grid jobs; keeps one seed's splits, base model and fitted estimators."""

    def __init__(self, job: GridJob) -> None:
        self.job = job
        self.spec = parse_spec(job.spec)
        self.experiment = Experiment.from_spec(
            self.spec, include_emma=False, variants=[], baselines=[], progress=False
        )
        self.emma_model_spec = emma_model_spec(self.spec)
        self._state: _SeedState | None = None

    def _seed(self, seed: int) -> _SeedState:
        if self._state is None or self._state.data.seed != seed:
            data = self.experiment.prepare(self.job.data, seed)
            loss = seed_loss(data, self.spec)
            base = train_base_model(self.experiment.base, data, loss)
            torch.manual_seed(seed)
            fitted = seeded_model(self.emma_model_spec, seed)
            fit_estimators(fitted, data.clean["train"])
            self._state = _SeedState(data, loss, base, fitted)
        return self._state

    def select(self, point: GridPoint, seed: int) -> dict[str, Any]:
        """Train one configuration on ``seed`` and score it on validation data only."""
        (record,) = self.select_many([point], seed)["records"]
        return dict(record)

    def select_many(self, points: list[GridPoint], seed: int) -> dict[str, Any]:
        """Train ``points`` on ``seed`` (stacked where they can, `GridJob.stack`) and score
        each on validation data only: a ``batch`` of one ``select`` record per point."""
        start, cpu = time.perf_counter(), time.process_time()
        state = self._seed(seed)
        items = train_variants(
            [point.variant(self.spec) for point in points],
            state.data,
            state.base.model,
            state.loss,
            estimators_from=state.fitted,
            stack=self.job.stack,
        )
        share = (
            (time.perf_counter() - start) / len(points),
            (time.process_time() - cpu) / len(points),
        )
        records = [
            self._selection(point, seed, item, state, share)
            for point, item in zip(points, items, strict=True)
        ]
        return {"kind": "batch", "records": records}

    @staticmethod
    def _selection(
        point: GridPoint,
        seed: int,
        item: TrainedModel,
        state: _SeedState,
        share: tuple[float, float],
    ) -> dict[str, Any]:
        parts = scores_by_part(item.model, state.data, "val", item.threshold)
        attention = item.model.attention
        return {
            "kind": "select",
            "key": point.key,
            **asdict(point),
            "seed": seed,
            "val_loss": item.val_loss,
            "val_metric": score(item.model, state.data.mixed["val"], item.threshold),
            **{f"val_{condition}": value for condition, value in parts.items()},
            "threshold": item.threshold,
            "best_epoch": item.best_epoch,
            "capacity": float(attention.capacity().detach()) if attention is not None else None,
            "seconds": share[0],
            "cpu_seconds": share[1],
        }

    def rerun(self, seed: int, points: list[GridPoint]) -> dict[str, Any]:
        """early_fusion, noise_augmentation and every configuration of ``points`` on
        ``seed``, scored on test."""
        start, cpu = time.perf_counter(), time.process_time()
        data = self.experiment.prepare(self.job.data, seed)
        experiment = Experiment.from_spec(
            self.spec,
            include_emma=False,
            variants=[p.variant(self.spec) for p in points],
            baselines=[],
            progress=False,
            stack=self.job.stack,
        )
        outcome = run_seed(experiment, data)
        return {
            "kind": "rerun",
            "seed": seed,
            "configs": [p.key for p in points],
            "scores": outcome.scores,
            "diagnostics": outcome.diagnostics,
            "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu,
        }

    def run(self, task: tuple[Any, ...]) -> dict[str, Any]:
        """``("select", point, seed)``, ``("select_many", points, seed)`` or
        ``("rerun", seed, points)``."""
        if task[0] == "select":
            return self.select(*task[1:])
        if task[0] == "select_many":
            return self.select_many(*task[1:])
        if task[0] == "rerun":
            return self.rerun(*task[1:])
        raise ValueError(f"unknown grid task {task[0]!r}; expected 'select' or 'rerun'.")


_WORKER: GridTrainer | None = None


def _init_worker(job: GridJob, owner: int | None = None) -> None:
    """Set up a worker: it dies with ``owner`` (the ``emma grid`` process; see
    `emma_lab.grid.lifeline`) and leaves Ctrl-C to it, then builds its trainer."""
    global _WORKER
    die_with_parent()
    watch_parent(owner)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner stops the pool on Ctrl-C
    torch.set_num_threads(1)
    _WORKER = GridTrainer(job)


def _run_in_worker(task: tuple[Any, ...]) -> dict[str, Any]:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.run(task)


def _pool_context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where available: the server imports the library once and every worker
    forks from it, instead of each spawned worker importing torch again. ``spawn`` elsewhere.
    The forkserver also preloads `emma_lab.grid._forkserver`, so it dies with this process."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "emma_lab.grid._forkserver"])
    return context


class GridExecutor:
    """Runs grid tasks (``("select", point, seed)`` or ``("rerun", seed, points)``) and
    hands each record to a callback in this process, in completion order.

    One worker runs in this process; more run in a process pool (created on first use and
    shared by every call), each worker on one torch thread.
    """

    def __init__(self, job: GridJob, workers: int) -> None:
        self.job, self.workers = job, workers
        self._pool: ProcessPoolExecutor | None = None
        self._trainer: GridTrainer | None = None

    def __enter__(self) -> GridExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if self._pool is not None:
            if exc_type is not None:  # Ctrl-C or a failure: do not wait for running jobs
                self._terminate_workers()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _terminate_workers(self) -> None:
        # ProcessPoolExecutor.terminate_workers arrives in Python 3.14; before, the pool's
        # process table is the only handle on its workers.
        terminate = getattr(self._pool, "terminate_workers", None)
        if terminate is not None:
            terminate()
            return
        for process in list(getattr(self._pool, "_processes", {}).values()):
            process.terminate()

    def run(self, tasks: list[tuple[Any, ...]], on_done: Callable[[dict[str, Any]], None]) -> None:
        if not tasks:
            return
        if self.workers == 1:
            self._trainer = self._trainer or GridTrainer(self.job)
            with torch_threads(1):
                for task in tasks:
                    on_done(self._trainer.run(task))
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_pool_context(),
                initializer=_init_worker,
                initargs=(self.job, os.getpid()),
            )
        futures: list[Future[dict[str, Any]]] = [
            self._pool.submit(_run_in_worker, task) for task in tasks
        ]
        try:
            for future in as_completed(futures):
                on_done(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


@dataclass
class GridResult:
    """The validation ranking of every configuration and the top ones' test reruns."""

    selection: pd.DataFrame
    top: list[GridPoint]
    reruns: TableResult
    criterion: str = CRITERION

    @property
    def metric(self) -> str:
        return self.reruns.metric


def rank_configurations(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Selection records ranked by `CRITERION`; validation columns only, by construction."""
    frame = pd.DataFrame(list(records)).drop(columns=["kind", "fingerprint"], errors="ignore")
    leading = ["key", "rho", "lambda_e", "lambda_c", "seed", "val_loss", "val_metric"]
    frame = frame[leading + sorted(set(frame.columns) - set(leading))]
    frame = frame.sort_values(
        ["val_loss", "val_metric", "key"], ascending=[True, False, True], kind="mergesort"
    ).reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def top_comparisons(
    scores: pd.DataFrame, top: Sequence[GridPoint], mode_names: list[str]
) -> list[PairedComparison]:
    """Each top configuration against noise_augmentation, per evaluation and condition."""
    out = []
    for evaluation, where in EVALUATION_LABELS.items():
        for condition in conditions(mode_names):
            baseline = seed_values(scores, evaluation, NOISE_AUGMENTATION, condition)
            for point in top:
                out.append(
                    compare(
                        seed_values(scores, evaluation, point.model_name, condition),
                        baseline,
                        a=point.model_name,
                        b=NOISE_AUGMENTATION,
                        condition=f"{condition} ({where})",
                    )
                )
    return out


#: Most configurations one stacked selection job trains at once.
STACK_LIMIT = 32


def _selection_tasks(
    pending: list[GridPoint], seed: int, workers: int, stack: bool
) -> list[tuple[Any, ...]]:
    """One task per configuration, or with ``stack`` about one per worker (each at most
    `STACK_LIMIT` configurations), in grid order."""
    if not stack or len(pending) < 2:
        return [("select", point, seed) for point in pending]
    size = min(STACK_LIMIT, -(-len(pending) // max(workers, 1)))
    return [("select_many", pending[i : i + size], seed) for i in range(0, len(pending), size)]


class _Progress:
    """Appends each finished record to the log and advances a progress bar."""

    def __init__(self, log: JobLog, fingerprint: str, bar: Any) -> None:
        self.log, self.fingerprint, self.bar = log, fingerprint, bar
        self.records: list[dict[str, Any]] = []

    def __call__(self, record: dict[str, Any]) -> None:
        if record.get("kind") == "batch":  # a stacked selection job: one record per point
            for each in record["records"]:
                self(each)
            return
        record = {**record, "fingerprint": self.fingerprint}
        self.log.append(record)
        self.records.append(record)
        self.bar.update(1)


def _bar(progress: bool, total: int, pending: int, desc: str) -> Any:
    return tqdm(total=total, initial=total - pending, desc=desc, disable=not progress)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


#: Fields of the log's records that the grid reads, and what each must be.
_RECORD_FIELDS: dict[str, dict[str, tuple[str, Callable[[Any], bool]]]] = {
    "select": {
        "key": ("a string", lambda v: isinstance(v, str)),
        "seed": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
        **{
            name: ("a number", _is_number)
            for name in ("rho", "lambda_e", "lambda_c", "val_loss", "val_metric")
        },
    },
    "rerun": {
        "seed": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
        "configs": ("a list of strings", lambda v: _is_list_of(v, str)),
        "scores": ("a list of objects", lambda v: _is_list_of(v, dict)),
        "diagnostics": ("a list of objects", lambda v: _is_list_of(v, dict)),
    },
}


def record_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with one record of the log (a missing field, a wrong type), or ``None``."""
    if not isinstance(record.get("fingerprint"), str):
        return f"field 'fingerprint' must be a string, got {record.get('fingerprint')!r}"
    kind = record.get("kind")
    if not isinstance(kind, str) or kind not in _RECORD_FIELDS:
        return f"field 'kind' must be 'select' or 'rerun', got {kind!r}"
    for name, (expected, valid) in _RECORD_FIELDS[kind].items():
        if name not in record:
            return f"a {kind} record without the field {name!r}"
        if not valid(record[name]):
            return f"field {name!r} must be {expected}, got {record[name]!r}"
    return None


def _read_log(log: JobLog, fingerprint: str) -> list[dict[str, Any]]:
    records = log.read(check=record_problem)
    foreign = [r for r in records if r.get("fingerprint") != fingerprint]
    if foreign:
        raise EmmaError(
            f"{log.path} holds {len(foreign)} result(s) of a different spec, data set or "
            "training settings, so this grid cannot resume from it. Use another output "
            "directory, or delete the file to start over."
        )
    return records


def _executor(
    job: GridJob, workers: int, scheduler: str | None, key: str
) -> GridExecutor | DaskExecutor:
    """`GridExecutor`, or with a ``scheduler`` the Dask one (dask is imported only then)."""
    if scheduler is None:
        return GridExecutor(job, workers)
    from emma_lab.cluster import DaskExecutor
    from emma_lab.workloads import GridWorkload

    return DaskExecutor(GridWorkload(job.spec, job.data_dir, key, job.stack), scheduler)


def run_grid(
    spec: EmmaSpec,
    data: MultiModalData,
    out_dir: str | Path,
    *,
    grid: GridSpec | None = None,
    workers: int | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    data_dir: str | Path | None = None,
    stack: bool = True,
) -> GridResult:
    """Select on validation, rerun the top configurations over seeds, score them on test.

    ``grid`` defaults to the spec's ``evaluation.grid`` (else the thesis' grid), ``workers``
    to the grid's. Resumes from ``out_dir/grid.jsonl``: configurations (and rerun seeds)
    already there with the same settings are not trained again.

    ``scheduler`` runs the jobs on a Dask cluster instead of local processes
    (``tcp://host:port`` or ``local:N``; `emma_lab.cluster`): its workers load the data
    from the spec's data section with ``data_dir``, and ``workers`` is not used.

    With ``stack`` the pending configurations are cut into one job per worker (at most
    `STACK_LIMIT` each) that trains its configurations as one stacked model, with the same
    records as one at a time; a job's records reach the log when it ends.
    """
    grid = grid or evaluation_of(spec).grid or GridSpec()
    points = grid_points(grid.rho, grid.lambda_e, grid.lambda_c)
    data = select_modes(data, spec)
    where = None  # the data directory, for Dask workers only
    if scheduler is not None and data_dir is not None:
        where = str(Path(data_dir).expanduser().absolute())
    job = GridJob(spec.to_dict(), data, where, stack)
    log = JobLog(Path(out_dir) / LOG_NAME)
    key = fingerprint(spec, data)
    previous = _read_log(log, key)

    selected = {
        r["key"]: r for r in previous if r["kind"] == "select" and r["seed"] == grid.selection_seed
    }
    pending = [p for p in points if p.key not in selected]
    with _executor(job, workers or grid.workers, scheduler, key) as executor:
        with _bar(progress, len(points), len(pending), "grid configurations") as bar:
            done = _Progress(log, key, bar)
            tasks = _selection_tasks(pending, grid.selection_seed, workers or grid.workers, stack)
            executor.run(tasks, done)
        selected |= {r["key"]: r for r in done.records}
        ranking = rank_configurations([selected[p.key] for p in points])
        by_key = {p.key: p for p in points}
        top = [by_key[k] for k in ranking["key"].iloc[: grid.top]]

        keys = [p.key for p in top]
        reruns = {r["seed"]: r for r in previous if r["kind"] == "rerun" and r["configs"] == keys}
        missing = [s for s in grid.rerun_seeds if s not in reruns]
        with _bar(progress, len(grid.rerun_seeds), len(missing), "reruns of the top") as bar:
            done = _Progress(log, key, bar)
            executor.run([("rerun", s, top) for s in missing], done)
        reruns |= {r["seed"]: r for r in done.records}

    scores = pd.DataFrame([row for s in grid.rerun_seeds for row in reruns[s]["scores"]])
    diagnostics = pd.DataFrame([row for s in grid.rerun_seeds for row in reruns[s]["diagnostics"]])
    metric = "f1" if data.task == "binary" else "accuracy"
    names = list(spec.mode_names)
    result = TableResult(scores, diagnostics, top_comparisons(scores, top, names), metric, names)
    return GridResult(ranking, top, result)
