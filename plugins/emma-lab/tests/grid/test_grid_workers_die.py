"""The grid's worker processes (and their forkserver) die with ``emma grid``, even when it
is killed with SIGKILL and has no chance to shut its pool down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _experiment_samples import breast_cancer_spec
from _processes import descendants, parent_of
from emma_lab.grid import lifeline

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if parent_of(pid) is not None}


def _grid_spec(tmp_path: Path) -> Path:
    spec = breast_cancer_spec()
    spec["data"] = {"dataset": {"kind": "breast_cancer"}}
    spec["training"] = {"base_epochs": 30, "epochs": 200}  # long enough to be killed mid-job
    spec["evaluation"] = {
        "noise_draws": 1,
        "grid": {
            "rho": [1e-2, 1e-1],
            "lambda_e": [0.0, 1e-2],
            "lambda_c": [1e-3],
            "top": 1,
            "rerun_seeds": [0, 1],
            "workers": 2,
        },
    }
    path = tmp_path / "grid-spec.json"
    path.write_text(json.dumps(spec))
    return path


@linux_only
def test_sigkill_of_emma_grid_takes_its_workers_along(tmp_path: Path) -> None:
    argv = ["grid", str(_grid_spec(tmp_path)), "--out", str(tmp_path / "out"), "--no-progress"]
    code = f"from emma_plugins.cli import main; raise SystemExit(main({argv!r}))"
    grid = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        family: set[int] = set()
        while time.monotonic() < deadline and grid.poll() is None:
            family = descendants(grid.pid)
            if len(family) >= 4:  # resource tracker, forkserver and two workers
                break
            time.sleep(0.5)
        assert len(family) >= 4, f"the grid did not start its workers: {family}"
        time.sleep(3)  # let the workers take their first jobs
        family = descendants(grid.pid)
    finally:
        grid.send_signal(signal.SIGKILL)
        grid.wait()
    deadline = time.monotonic() + 10
    while _alive(family) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = _alive(family)
    for pid in survivors:  # do not leave them behind for the next test either
        os.kill(pid, signal.SIGKILL)
    assert survivors == set()


@linux_only
def test_ctrl_c_stops_the_grid_and_its_workers_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["grid", str(_grid_spec(tmp_path)), "--out", str(out), "--no-progress"]
    code = f"from emma_plugins.cli import main; raise SystemExit(main({argv!r}))"
    grid = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", code],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 120
        family: set[int] = set()
        while time.monotonic() < deadline and len(family) < 4 and grid.poll() is None:
            time.sleep(0.5)
            family = descendants(grid.pid)
        time.sleep(3)
        family = descendants(grid.pid)
        os.killpg(grid.pid, signal.SIGINT)  # what Ctrl-C does: the whole group
        _, err = grid.communicate(timeout=30)
    finally:
        if grid.poll() is None:
            grid.kill()
    assert grid.returncode == 130 and err == "interrupted\n", err
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    deadline = time.monotonic() + 10
    while _alive(family) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(family) == set()


def test_the_watchdog_ends_a_process_whose_owner_is_gone(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child.kill()
    child.wait()  # a PID that no longer runs
    script = (
        "import time; from emma_lab.grid.lifeline import watch_parent; "
        f"watch_parent({child.pid}, interval=0.05); time.sleep(30)"
    )
    started = time.monotonic()
    assert subprocess.run([sys.executable, "-c", script], timeout=30).returncode == 1
    assert time.monotonic() - started < 20


def test_the_watchdog_leaves_a_process_with_a_live_owner_alone() -> None:
    thread = lifeline.watch_parent(os.getpid(), interval=0.01)
    time.sleep(0.1)
    assert thread.is_alive() and thread.daemon
    assert threading.current_thread() is not thread


@linux_only
def test_die_with_parent_is_set_on_linux() -> None:
    script = (
        "import ctypes, ctypes.util; from emma_lab.grid.lifeline import die_with_parent; "
        "assert die_with_parent(); libc = ctypes.CDLL(ctypes.util.find_library('c')); "
        "sig = ctypes.c_int(); libc.prctl(2, ctypes.byref(sig), 0, 0, 0); print(sig.value)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert int(out.stdout) == signal.SIGKILL
