"""The grid on a Dask cluster (``emma grid --scheduler ADDRESS``).

`DaskExecutor` has `GridExecutor`'s interface: it runs grid tasks and hands each record to
a callback in the calling process (the driver), in completion order, so the driver alone
writes the results and the resumable log ``grid.jsonl``.

Workers never receive the data set with a job. The executor registers a `GridWorkerPlugin`
(the spec as plain values, the data directory and the settings' fingerprint) on the
cluster; on each worker the plugin loads the data itself from the spec's data section, on
the first task it runs there, and keeps that worker's `GridTrainer` with its seed's splits,
base model and fitted estimators. A job carries only its task tuple
(``("select", point, seed)``, ``("select_many", points, seed)`` or
``("rerun", seed, points)``).

A task whose worker dies is run again on another worker by the scheduler (up to
``distributed.scheduler.allowed-failures`` deaths, 3 by default); a task that raises is
retried once (`RETRIES`).

This module needs the ``dask`` extra (``pip install 'emma-lab[dask]'``); the grid imports it
only when ``--scheduler`` is given.
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
from typing import Any

import torch

from emma_plugins.core.errors import EmmaError


class DaskMissingError(EmmaError, ImportError):
    """``--scheduler`` was given but dask.distributed is not installed."""


try:
    from distributed import Client, KilledWorker, LocalCluster, WorkerPlugin, as_completed
    from distributed import get_worker as _get_worker
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise DaskMissingError(
        "--scheduler runs the grid on a Dask cluster and needs dask.distributed, which is "
        f"not installed ({exc}). Install the extra: pip install 'emma-lab[dask]'"
    ) from exc

from emma_lab.grid.search import GridJob, GridTrainer, fingerprint  # noqa: E402
from emma_plugins.deploy.data import load_spec_data, select_modes  # noqa: E402
from emma_plugins.spec import parse_spec  # noqa: E402

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


class GridWorkerPlugin(WorkerPlugin):
    """Lives on every worker of the cluster: loads the data from the spec (on the first task
    it runs, so the worker's event loop is never blocked by it) and keeps the worker's
    `GridTrainer`, hence its seed's splits, base model and fitted estimators.

    Tasks run one at a time per worker (a lock), since training seeds torch's global
    generator: start workers with one thread each and one process per core.

    ``private``: the workers belong to this grid's own LocalCluster, whose processes share
    the terminal's process group: they leave Ctrl-C to the driver, which closes them.
    """

    idempotent = True  # the same name is the same spec, data and settings: keep its caches

    def __init__(
        self,
        spec: dict[str, Any],
        data_dir: str | None,
        fingerprint: str,
        *,
        private: bool = False,
    ) -> None:
        self.spec, self.data_dir, self.fingerprint = spec, data_dir, fingerprint
        self.private = private
        payload = json.dumps([spec, data_dir, fingerprint], sort_keys=True, default=str)
        self.name = "emma-grid-" + hashlib.sha256(payload.encode()).hexdigest()[:16]
        self._trainer: GridTrainer | None = None
        self._lock: threading.Lock | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_trainer": None, "_lock": None}

    def setup(self, worker: Any) -> None:
        self._trainer, self._lock = None, threading.Lock()
        if self.private and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    def teardown(self, worker: Any) -> None:
        self._trainer = None

    def trainer(self) -> GridTrainer:
        """This worker's trainer; the data is loaded from the spec on first use."""
        if self._trainer is None:
            spec = parse_spec(self.spec)
            data = select_modes(load_spec_data(spec, self.data_dir), spec)
            found = fingerprint(spec, data)
            if found != self.fingerprint:
                raise EmmaError(
                    f"a Dask worker loaded the data set {data.name!r} ({len(data)} samples) "
                    f"from the spec with data directory {self.data_dir or '(its default)'}, and "
                    "it differs from the driver's: the grid's records would not match. Give "
                    "the workers the same data (--data-dir on a shared file system)."
                )
            self._trainer = GridTrainer(GridJob(self.spec, data, self.data_dir))
        return self._trainer

    def run(self, task: tuple[Any, ...]) -> dict[str, Any]:
        if self._lock is None:  # pragma: no cover - setup always runs first
            self._lock = threading.Lock()
        with self._lock:
            torch.set_num_threads(1)
            return self.trainer().run(task)


def run_task(plugin_name: str, task: tuple[Any, ...]) -> dict[str, Any]:
    """One grid task on a Dask worker, with the worker's `GridWorkerPlugin`."""
    plugin = _get_worker().plugins.get(plugin_name)
    if not isinstance(plugin, GridWorkerPlugin):
        raise EmmaError(f"this Dask worker lacks the grid's plugin {plugin_name!r}.")
    return plugin.run(task)


class DaskExecutor:
    """Runs grid tasks on a Dask cluster and hands each record to a callback in this
    process, in completion order (`GridExecutor`'s interface).

    ``address`` is a running scheduler (``tcp://host:port``) or ``local:N``: a LocalCluster
    of N worker processes with one thread each, started here and closed on exit.
    """

    def __init__(self, job: GridJob, address: str, *, fingerprint: str) -> None:
        if not job.spec.get("data"):
            raise EmmaError(
                "--scheduler: Dask workers load the data from the spec's data section, and "
                "this spec has none (add e.g. data: {dataset: {kind: breast_cancer}})."
            )
        self.job, self.address = job, address
        self.target = parse_scheduler(address)
        self.plugin = GridWorkerPlugin(
            job.spec, job.data_dir, fingerprint, private=isinstance(self.target, int)
        )
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
                    key=f"emma-grid-{task[0]}-{batch}-{number}",
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
                f"{exc} Out of memory? The finished grid tasks are in grid.jsonl: run the "
                "same command again to resume."
            ) from exc
        except BaseException:
            self.client.cancel(list(pending.values()))
            raise
