"""The lab's jobs on a Dask cluster (``--scheduler ADDRESS`` of ``emma grid``, ``emma run``
and ``emma bench robustness``).

`DaskExecutor` runs jobs and hands each record to a callback in the calling process (the
driver), in completion order, so the driver alone writes results and resume logs.

Workers never receive the data set with a job. The executor registers a `JobWorkerPlugin`
carrying a `Workload` (plain values: the spec or bench, the data directory, the settings'
fingerprint); on each worker the plugin builds the workload's runner on the first job it
runs there, which loads the data itself from the spec's data section, and keeps it with
its caches (a seed's splits, base model and fitted estimators). A job carries only its
task tuple: for the grid ``("select", point, seed)``, ``("select_many", points, seed)`` or
``("rerun", seed, points)``; for ``emma run`` and ``emma bench`` ``("seed", seed)``.

A task whose worker dies is run again on another worker by the scheduler (up to
``distributed.scheduler.allowed-failures`` deaths, 3 by default); a task that raises is
retried once (`RETRIES`).

This module needs the ``dask`` extra (``pip install 'emma-lab[dask]'``); the commands
import it only when ``--scheduler`` is given.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import signal
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import torch

from emma_plugins.core.errors import EmmaError


class DaskMissingError(EmmaError, ImportError):
    """``--scheduler`` was given but dask.distributed is not installed."""


try:
    from distributed import Client, KilledWorker, LocalCluster, WorkerPlugin, as_completed
    from distributed import get_worker as _get_worker
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise DaskMissingError(
        "--scheduler runs the jobs on a Dask cluster and needs dask.distributed, which is "
        f"not installed ({exc}). Install the extra: pip install 'emma-lab[dask]'"
    ) from exc


#: How often a task that raises is run again (a worker's death is not counted here: the
#: scheduler reruns the task elsewhere, up to ``distributed.scheduler.allowed-failures``).
RETRIES = 1
#: ``local:N``, a LocalCluster of N worker processes, one thread each.
_LOCAL = re.compile(r"local:(\d+)")
#: A running scheduler: ``tcp://host:port`` (or another protocol of distributed's).
_REMOTE = re.compile(r"[a-z][a-z0-9+.-]*://\S+")
#: Longest wait for a remote scheduler to answer, in seconds.
CONNECT_TIMEOUT = 30


def parse_scheduler(address: str) -> int | str:
    """The worker count of ``local:N``, or the address of a running scheduler as given."""
    local = _LOCAL.fullmatch(address.strip())
    if local is not None:
        count = int(local.group(1))
        if count < 1:
            raise EmmaError(f"--scheduler {address}: local:N needs at least one worker.")
        return count
    if _REMOTE.fullmatch(address.strip()):
        return address.strip()
    raise EmmaError(
        f"--scheduler {address!r}: expected the address of a running Dask scheduler "
        "(tcp://host:port) or local:N (a local cluster of N worker processes)."
    )


class Runner(Protocol):
    """A workload's worker-side half: runs one task tuple, returns a plain-data record."""

    def run(self, task: tuple[Any, ...]) -> dict[str, Any]: ...


class Workload(Protocol):
    """What every worker of a job builds once: picklable plain values, plus `build`, which
    runs on the worker (it loads the data from the spec there)."""

    #: Identifies the spec, data and settings (the plugin's name is derived from it).
    key: str

    def build(self) -> Runner: ...


class JobWorkerPlugin(WorkerPlugin):
    """Lives on every worker of the cluster: builds the workload's runner on the first task
    it runs there (so the worker's event loop is never blocked by loading data) and keeps it.

    Tasks run one at a time per worker (a lock), since training seeds torch's global
    generator: start workers with one thread each and one process per core.

    ``private``: the workers belong to the command's own LocalCluster, whose processes share
    the terminal's process group: they leave Ctrl-C to the driver, which closes them.
    """

    idempotent = True  # the same name is the same workload: keep its caches

    def __init__(self, workload: Workload, *, private: bool = False) -> None:
        self.workload, self.private = workload, private
        self.name = f"emma-{type(workload).__name__.lower()}-{workload.key}"
        self._runner: Runner | None = None
        self._lock: threading.Lock | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_runner": None, "_lock": None}

    def setup(self, worker: Any) -> None:
        self._runner, self._lock = None, threading.Lock()
        if self.private and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    def teardown(self, worker: Any) -> None:
        self._runner = None

    def run(self, task: tuple[Any, ...]) -> dict[str, Any]:
        if self._lock is None:  # pragma: no cover - setup always runs first
            self._lock = threading.Lock()
        with self._lock:
            torch.set_num_threads(1)
            if self._runner is None:
                self._runner = self.workload.build()
            return self._runner.run(task)


def run_task(plugin_name: str, task: tuple[Any, ...]) -> dict[str, Any]:
    """One task on a Dask worker, with the worker's `JobWorkerPlugin`."""
    plugin = _get_worker().plugins.get(plugin_name)
    if not isinstance(plugin, JobWorkerPlugin):
        raise EmmaError(f"this Dask worker lacks the job's plugin {plugin_name!r}.")
    return plugin.run(task)


def key_of(*values: Any) -> str:
    """A short fingerprint of plain values (a workload's `key`)."""
    payload = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class DaskExecutor:
    """Runs a workload's tasks on a Dask cluster and hands each record to a callback in this
    process, in completion order (the grid's `GridExecutor` interface).

    ``address`` is a running scheduler (``tcp://host:port``) or ``local:N``: a LocalCluster
    of N worker processes with one thread each, started here and closed on exit.
    """

    def __init__(self, workload: Workload, address: str) -> None:
        self.address = address
        self.target = parse_scheduler(address)
        self.plugin = JobWorkerPlugin(workload, private=isinstance(self.target, int))
        self.cluster: Any = None
        self.client: Any = None

    def __enter__(self) -> DaskExecutor:
        try:
            if isinstance(self.target, int):
                self.cluster = LocalCluster(
                    n_workers=self.target,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.ERROR,  # not its routine warnings (a slow exit)
                )
                self.client = Client(self.cluster, set_as_default=False)
            else:
                self.client = Client(self.target, set_as_default=False, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            self._close()
            raise EmmaError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from exc
        try:
            self.client.register_plugin(self.plugin, name=self.plugin.name)
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _close(self) -> None:
        if self.client is not None:
            if self.cluster is None:  # a shared cluster: free the workers' data and models
                with contextlib.suppress(Exception):  # best effort, on the way out
                    self.client.unregister_worker_plugin(self.plugin.name)
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def run(self, tasks: list[tuple[Any, ...]], on_done: Callable[[dict[str, Any]], None]) -> None:
        if not tasks:
            return
        assert self.client is not None, "use DaskExecutor as a context manager"
        batch = uuid.uuid4().hex[:8]
        pending = {
            future.key: future
            for future in (
                self.client.submit(
                    run_task,
                    self.plugin.name,
                    task,
                    key=f"emma-{task[0]}-{batch}-{number}",
                    pure=False,
                    retries=RETRIES,
                )
                for number, task in enumerate(tasks)
            )
        }
        try:
            for future in as_completed(list(pending.values()), loop=self.client.loop):
                record = future.result()
                # Let go of the result: were its worker to die later, the scheduler would
                # otherwise compute it again for nothing.
                del pending[future.key]
                future.release()
                on_done(record)
        except KilledWorker as exc:
            self.client.cancel(list(pending.values()))
            raise EmmaError(
                f"{exc} Out of memory? The finished tasks are logged in the output directory: "
                "run the same command again with --resume to continue."
            ) from exc
        except BaseException:
            self.client.cancel(list(pending.values()))
            raise
