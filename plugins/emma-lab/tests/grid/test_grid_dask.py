"""`emma grid --scheduler`: the grid on a Dask cluster (a LocalCluster, and a real scheduler
with two workers), the same numbers as in-process, a dead worker's job retried, a killed
driver resumed from its log; and the local pool's workers die with a SIGKILLed grid."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _experiment_samples import breast_cancer_spec
from _processes import descendants, parent_of
from emma_lab.grid.runner import run_grid_spec

from emma_plugins.core.errors import EmmaError
from emma_plugins.spec import EmmaSpec, parse_spec

needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="needs dask.distributed: pip install 'emma-lab[dask]'",
)
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

GRID = {
    "rho": [1e-2, 1e-1],
    "lambda_e": [0.0, 1e-2],
    "lambda_c": [1e-3],
    "top": 1,
    "rerun_seeds": [0, 1],
    "selection_seed": 7,
    "workers": 1,
}
KEYS = {
    f"rho={r:g} lambda_e={e:g} lambda_c={c:g}"
    for r in GRID["rho"]
    for e in GRID["lambda_e"]
    for c in GRID["lambda_c"]
}
TIMING = ("seconds", "cpu_seconds")


def _spec_dict(epochs: int = 10) -> dict[str, Any]:
    spec = breast_cancer_spec()
    spec["data"] = {"dataset": {"kind": "breast_cancer"}}  # Dask workers load it from here
    spec["training"] = {"base_epochs": 2, "epochs": epochs}
    spec["evaluation"] = {"noise_draws": 1, "grid": GRID}
    return spec


def _spec(epochs: int = 10) -> EmmaSpec:
    return parse_spec(_spec_dict(epochs))


def _spec_file(tmp_path: Path, epochs: int) -> Path:
    path = tmp_path / "grid-spec.json"
    path.write_text(json.dumps(_spec_dict(epochs)))
    return path


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "grid.jsonl").read_text().splitlines()]


def _without_timing(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records, less their timing fields, in a fixed order (not completion order)."""
    kept = [{k: v for k, v in r.items() if k not in TIMING} for r in records]
    return sorted(kept, key=lambda r: (r["kind"], r.get("key", ""), r["seed"]))


def _assert_same_outputs(out: Path, reference: Path) -> None:
    """grid.csv (the ranking), grid_top.csv and every record match, timing aside."""
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "grid.csv").drop(columns=list(TIMING)),
        pd.read_csv(reference / "grid.csv").drop(columns=list(TIMING)),
    )
    assert (out / "grid_top.csv").read_text() == (reference / "grid_top.csv").read_text()
    assert _without_timing(_records(out)) == _without_timing(_records(reference))


def _assert_each_job_once(records: list[dict[str, Any]]) -> None:
    selects = [r["key"] for r in records if r["kind"] == "select"]
    assert sorted(selects) == sorted(KEYS), selects  # every configuration, none twice
    assert sorted(r["seed"] for r in records if r["kind"] == "rerun") == [0, 1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The grid run in this process (one worker): what every cluster must reproduce."""
    out = tmp_path_factory.mktemp("in-process")
    run_grid_spec(_spec(), out, workers=1, progress=False)
    return out


# -- processes, from /proc ---------------------------------------------------------------


def _survivors(pids: set[int], wait: float = 15.0) -> set[int]:
    """Those of ``pids`` still running after up to ``wait`` seconds; killed, so that no test
    leaves them behind."""
    deadline = time.monotonic() + wait
    alive = {pid for pid in pids if parent_of(pid) is not None}
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = {pid for pid in alive if parent_of(pid) is not None}
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    return alive


def _emma_grid(spec: Path, out: Path, *options: str) -> subprocess.Popen[str]:
    options = ("--no-progress", *options)
    return subprocess.Popen(
        [sys.executable, "-m", "emma_plugins", "grid", str(spec), "--out", str(out), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after_first_record(grid: subprocess.Popen[str], out: Path) -> tuple[int, set[int]]:
    """SIGKILL ``grid`` once its log holds a record: the records then, and its processes."""
    log, deadline = out / "grid.jsonl", time.monotonic() + 240
    family: set[int] = set()
    try:
        while time.monotonic() < deadline and grid.poll() is None:
            family |= descendants(grid.pid)
            if log.exists() and log.read_text().count("\n") >= 1:
                break
            time.sleep(0.05)
        family |= descendants(grid.pid)
    finally:
        grid.kill()
        _, err = grid.communicate()
    assert log.exists(), f"the grid wrote no record before it was killed:\n{err}"
    return log.read_text().count("\n"), family


# -- fast checks ---------------------------------------------------------------------------


def test_a_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "emma_lab.cluster", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'emma-lab\[dask\]'") as caught:
        importlib.import_module("emma_lab.cluster")
    assert isinstance(caught.value, EmmaError)  # `emma grid` prints it as one line


def test_the_cli_checks_the_scheduler_option(capsys: pytest.CaptureFixture[str]) -> None:
    from emma_plugins.cli import main

    with pytest.raises(SystemExit):
        main(["grid", "spec.yaml", "--scheduler", "somewhere"])
    assert "expected tcp://host:port" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["grid", "spec.yaml", "--scheduler", "local:0"])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["grid", "spec.yaml", "--scheduler", "local:2", "--workers", "2"])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["grid", "--help"])
    assert "--scheduler ADDRESS" in capsys.readouterr().out


@needs_dask
def test_the_executor_needs_a_data_section_and_a_valid_address(tmp_path: Path) -> None:
    from emma_lab.cluster import parse_scheduler
    from emma_lab.grid.search import run_grid

    from emma_plugins.deploy.data import load_spec_data

    assert parse_scheduler("local:3") == 3
    assert parse_scheduler("tcp://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    for wrong in ("local:0", "local:x", "127.0.0.1:8786"):
        with pytest.raises(EmmaError, match="--scheduler"):
            parse_scheduler(wrong)
    spec = _spec_dict()
    data = load_spec_data(parse_spec(spec))
    del spec["data"]
    with pytest.raises(EmmaError, match="data section"):
        run_grid(parse_spec(spec), data, tmp_path, scheduler="local:1", progress=False)


# -- on a cluster --------------------------------------------------------------------------


@needs_dask
@pytest.mark.slow
def test_a_local_cluster_gives_the_in_process_numbers(reference: Path, tmp_path: Path) -> None:
    run_grid_spec(_spec(), tmp_path, scheduler="local:2", progress=False)
    _assert_same_outputs(tmp_path, reference)


@needs_dask
@pytest.mark.slow
def test_a_killed_worker_s_job_runs_again_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emma_lab.cluster import DaskExecutor

    killed: list[tuple[str, int, list[str]]] = []
    original = DaskExecutor.run

    def run_and_kill_a_worker(self: DaskExecutor, tasks: Any, on_done: Any) -> None:
        def done(record: dict[str, Any]) -> None:
            on_done(record)
            if not killed:  # the first record is in: kill a worker that holds a job
                pids = self.client.run(os.getpid)
                busy = {a: list(keys) for a, keys in self.client.processing().items() if keys}
                address = next(iter(busy), next(iter(pids)))
                killed.append((address, pids[address], busy.get(address, [])))
                os.kill(pids[address], signal.SIGKILL)

        original(self, tasks, done)

    monkeypatch.setattr(DaskExecutor, "run", run_and_kill_a_worker)
    # one job per configuration (not stacked), so a worker still holds one after the first
    run_grid_spec(_spec(epochs=20), tmp_path, scheduler="local:2", progress=False, stack=False)
    assert len(killed) == 1 and killed[0][2], f"no worker held a job when one was killed: {killed}"
    _, pid, _ = killed[0]
    assert parent_of(pid) is None
    records = _records(tmp_path)
    _assert_each_job_once(records)
    assert len(records) == len(KEYS) + 2
    assert len(pd.read_csv(tmp_path / "grid.csv")) == len(KEYS)


@needs_dask
@linux_only
@pytest.mark.slow
def test_a_killed_driver_resumes_from_its_log(tmp_path: Path) -> None:
    spec, out = _spec_file(tmp_path, epochs=20), tmp_path / "out"
    first, family = _kill_after_first_record(_emma_grid(spec, out, "--scheduler", "local:2"), out)
    assert 1 <= first < len(KEYS) + 2, "the grid finished before it was killed"
    assert _survivors(family) == set()  # the LocalCluster's workers died with it
    before = (out / "grid.jsonl").read_text().splitlines(keepends=True)

    again = _emma_grid(spec, out, "--scheduler", "local:2")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    after = (out / "grid.jsonl").read_text().splitlines(keepends=True)
    assert after[: len(before)] == before  # the first run's records are reused, not redone
    records = [json.loads(line) for line in after]
    _assert_each_job_once(records)
    assert len(records) == len(KEYS) + 2
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


def _dask(*argv: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *argv],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, the workers' children included
    )


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1: its address."""
    scheduler_file = tmp_path / "scheduler.json"
    processes = [
        _dask(
            "scheduler",
            *("--host", "127.0.0.1", "--port", "0", "--no-dashboard"),
            *("--scheduler-file", str(scheduler_file)),
            cwd=tmp_path,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scheduler_file.exists(), "the dask scheduler did not start"
        for _ in range(2):
            processes.append(
                _dask(
                    "worker",
                    *("--scheduler-file", str(scheduler_file), "--nthreads", "1"),
                    *("--host", "127.0.0.1", "--no-dashboard"),
                    *("--local-directory", str(tmp_path / "workers")),
                    cwd=tmp_path,
                )
            )
        address = json.loads(scheduler_file.read_text())["address"]
        from distributed import Client

        with Client(address, set_as_default=False, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@needs_dask
@pytest.mark.slow
def test_a_running_scheduler_gives_the_in_process_numbers(
    reference: Path, dask_cluster: str, tmp_path: Path
) -> None:
    assert dask_cluster.startswith("tcp://127.0.0.1:")
    run_grid_spec(_spec(), tmp_path, scheduler=dask_cluster, progress=False)
    _assert_same_outputs(tmp_path, reference)


@linux_only
@pytest.mark.slow
def test_a_sigkilled_grid_leaves_no_pool_worker_behind(tmp_path: Path) -> None:
    spec, out = _spec_file(tmp_path, epochs=20), tmp_path / "out"
    first, family = _kill_after_first_record(_emma_grid(spec, out, "--workers", "2"), out)
    assert first < len(KEYS) + 2, "the grid finished before it was killed"
    assert len(family) >= 3, f"the grid did not start its pool: {family}"  # forkserver, 2 workers
    assert _survivors(family) == set()
