"""One data set's benchmark over seeds: train every method, score every condition, choose
the best peer on validation, compare EMMA with it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from emma_lab.experiments.comparison import Experiment
from emma_lab.experiments.protocol import SeedData
from emma_lab.joblog import JobLog
from emma_lab.metrics.stats import PairedComparison
from emma_lab.robustness.failures import FailureSummary, summarise_failures
from emma_lab.robustness.methods import MethodTrainer, method_infos
from emma_lab.robustness.metrics import robustness_frame, score_methods
from emma_lab.robustness.protocol import build_conditions, condition_names, failure_names
from emma_lab.robustness.selection import choose_best_peer, compare_with_peer, validation_rows
from emma_lab.robustness.suite import BenchSpec
from emma_plugins.core.errors import EmmaError
from emma_plugins.deploy.data import load_spec_data, select_modes
from emma_plugins.sources import MultiModalData
from emma_plugins.training.threads import torch_threads

#: The method the effective robustness is measured against (MultiBench's reference).
LATE_FUSION = "late_fusion"


@dataclass
class SeedRecords:
    """What one seed produced: validation rows (selection) and test condition rows."""

    validation: list[dict[str, Any]]
    scores: list[dict[str, Any]]


#: Trains the given seeds elsewhere, handing each seed's records (``validation`` and
#: ``scores`` rows) to the callback as they arrive: ``remote(seeds, collect)``.
RemoteRecords = Callable[[list[int], Callable[[int, dict[str, Any]], None]], None]


@dataclass
class BenchResult:
    """A data set's benchmark: per-seed frames, the best peer and the paired verdicts."""

    name: str
    metric: str
    mode_names: list[str]
    methods: list[str]
    emma_methods: list[str]
    conditions: list[str]
    scores: pd.DataFrame
    validation: pd.DataFrame
    robustness: pd.DataFrame
    best_peer: str
    comparisons: list[PairedComparison]
    setup: dict[str, Any] = field(default_factory=dict)
    #: The unanticipated suite's summary (None when its failures were not tested).
    failures: FailureSummary | None = None


def load_bench_data(
    bench: BenchSpec,
    data_dir: str | Path | None = None,
    *,
    max_samples: int | None = None,
) -> MultiModalData:
    """The bench's data set arranged as its spec's modes; a stratified subset of at most
    ``max_samples`` rows when given (the short version)."""
    spec = bench.emma_spec()
    data = select_modes(load_spec_data(spec, data_dir), spec)
    if max_samples is None or len(data) <= max_samples:
        return data
    index, _ = train_test_split(
        np.arange(len(data)), train_size=max_samples, stratify=data.target, random_state=0
    )
    return data.subset(np.sort(index))


def run_seed(trainer: MethodTrainer, data: SeedData) -> SeedRecords:
    """Train every method on one seed and score it on every test condition."""
    trained = trainer.train_seed(data)
    conditions = build_conditions(data, trainer.bench.protocol)
    return SeedRecords(
        validation_rows(trained, data), score_methods(trained, conditions, data.seed)
    )


def _setup(bench: BenchSpec, data: MultiModalData, seeds: Sequence[int]) -> dict[str, Any]:
    training = bench.emma_spec().resolved_training
    peer_epochs = bench.protocol.peer_epochs or training.base_epochs + training.epochs
    protocol = bench.protocol
    corruption = training.corruption
    return {
        "data set": f"{data.name} ({len(data)} samples; modes "
        + ", ".join(f"{m} [{len(c)}]" for m, c in data.modes.items())
        + f"; {data.n_classes} classes)",
        "seeds": list(seeds),
        "training corruption": f"{corruption.clean_fraction:.0%} clean, the rest split evenly "
        f"over one-mode Gaussian noise sigma={corruption.sigma}",
        "epochs": f"early fusion {training.base_epochs} (clean); noise augmentation and EMMA "
        f"+{training.epochs} on the corrupted mix; peers "
        + (
            f"{training.base_epochs} on clean data, then +{training.epochs} on the corrupted mix"
            if protocol.peer_start == "clean"
            else f"{peer_epochs} from scratch on the corrupted mix"
        )
        + "; early stopping on validation",
        "EMMA regularizers": f"lambda_c={training.lambda_c}, lambda_e={training.lambda_e}",
        "noise levels": protocol.noise_levels,
        "ood": protocol.ood,
        "multi-mode noise": None
        if protocol.multi_mode is None
        else protocol.multi_mode.model_dump(),
        "unanticipated failures": None
        if protocol.failures is None
        else {
            "counts": protocol.failures.counts,
            "kinds": {f.kind: f.severities for f in protocol.failures.failures},
        },
        "methods": {
            info.name: {"role": info.role, "trained": info.summary} for info in method_infos(bench)
        },
    }


def run_benchmark(
    bench: BenchSpec,
    data: MultiModalData,
    seeds: Sequence[int],
    *,
    progress: bool = True,
    threads: int = 1,
    stack: bool = True,
    log: str | Path | None = None,
    remote: RemoteRecords | None = None,
) -> BenchResult:
    """The whole benchmark of one data set (already loaded, arranged as the spec's modes).

    With ``log`` (a ``seeds.jsonl``) every finished seed's records are appended there, and
    seeds already in it with the same bench settings are not trained again (resume).
    ``remote`` trains the seeds still to do elsewhere (a Dask cluster) first."""
    trainer = MethodTrainer(bench, stack=stack)
    experiment = Experiment.from_spec(
        trainer.spec, seeds=seeds, include_emma=False, variants=[], baselines=[]
    )
    journal = None if log is None else JobLog(log)
    key = _fingerprint(bench, data)
    done = {} if journal is None else _finished_seeds(journal, key)
    validation: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []

    def collect(seed: int, records: dict[str, Any]) -> None:
        done[seed] = {"validation": records["validation"], "scores": records["scores"]}
        if journal is not None:
            journal.append({"seed": seed, "fingerprint": key, **done[seed]})

    pending = [seed for seed in seeds if seed not in done]
    if remote is not None and pending:
        remote(list(pending), collect)
    with torch_threads(threads):
        for seed in tqdm(list(seeds), desc=f"{bench.name} seeds", disable=not progress):
            if seed not in done:
                records = run_seed(trainer, experiment.prepare(data, seed))
                collect(seed, {"validation": records.validation, "scores": records.scores})
            validation += done[seed]["validation"]
            scores += done[seed]["scores"]
    return summarise(bench, data, seeds, pd.DataFrame(validation), pd.DataFrame(scores))


def _fingerprint(bench: BenchSpec, data: MultiModalData) -> str:
    """The settings a seed's records depend on: the bench and the data's rows and columns."""
    payload = json.dumps(
        [
            bench.model_dump(mode="json"),
            data.name,
            len(data),
            list(map(str, data.features.columns)),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _finished_seeds(journal: JobLog, key: str) -> dict[int, dict[str, Any]]:
    """The seeds the log holds for these settings; records of other settings are refused."""
    records = journal.read()
    foreign = [r for r in records if r.get("fingerprint") != key]
    if foreign:
        raise EmmaError(
            f"{journal.path} holds {len(foreign)} seed(s) of other bench settings, so this "
            "bench cannot resume from it; use --overwrite or another output directory."
        )
    return {int(r["seed"]): {"validation": r["validation"], "scores": r["scores"]} for r in records}


def summarise(
    bench: BenchSpec,
    data: MultiModalData,
    seeds: Sequence[int],
    validation: pd.DataFrame,
    scores: pd.DataFrame,
) -> BenchResult:
    """Curves' areas, the best peer (validation only) and EMMA's verdicts against it."""
    modes = list(bench.emma_spec().mode_names)
    methods = bench.methods
    reference = LATE_FUSION if LATE_FUSION in methods else None
    robustness = robustness_frame(scores, modes, bench.protocol.noise_levels, reference)
    best = choose_best_peer(validation, bench.candidates)
    failures = set(failure_names(modes, bench.protocol))
    conditions = [c for c in condition_names(modes, bench.protocol) if c not in failures]
    emma = list(bench.emma)
    comparisons = compare_with_peer(scores, robustness, emma, best, conditions, modes)
    return BenchResult(
        name=bench.name,
        metric="f1" if data.task == "binary" else "accuracy",
        mode_names=modes,
        methods=methods,
        emma_methods=emma,
        conditions=conditions,
        scores=scores,
        validation=validation,
        robustness=robustness,
        best_peer=best,
        comparisons=comparisons,
        setup=_setup(bench, data, seeds),
        failures=summarise_failures(scores, methods, emma, best, bench.unanticipated.bootstrap),
    )
