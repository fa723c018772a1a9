"""Worker processes that die with the process that started them.

A grid's workers are forked from multiprocessing's forkserver, itself started by the
``emma grid`` process. When that process is killed (SIGKILL, the OOM killer) nothing
tells the forkserver or the workers, and they would live on holding a gigabyte. Two
lines of defence, both set up before a worker takes any job:

- Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, in the forkserver (`emma_lab.grid._forkserver`,
  preloaded by it) and in each worker (`die_with_parent`), so the kernel kills the
  forkserver when ``emma grid`` dies and each worker when the forkserver dies;
- everywhere: a daemon thread in each worker (`watch_parent`) that exits the process once
  its parent changes (it was re-parented) or the ``emma grid`` process is gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

#: ``PR_SET_PDEATHSIG`` of ``<linux/prctl.h>``.
PR_SET_PDEATHSIG = 1
#: How often the watchdog looks at its parent, in seconds.
WATCH_INTERVAL = 0.5


def die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when the thread that forked it exits (Linux
    only; ``False`` elsewhere or when ``prctl`` is unavailable)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # Windows: os.kill(pid, 0) is not a probe there
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def watch_parent(owner: int | None = None, interval: float = WATCH_INTERVAL) -> threading.Thread:
    """Start a daemon thread that ends this process (``os._exit``) as soon as its parent
    changes or ``owner`` (the process that started the pool) is gone."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            if os.getppid() != parent or (owner is not None and not _alive(owner)):
                os._exit(1)
            threading.Event().wait(interval)

    thread = threading.Thread(target=watch, name="emma-parent-watchdog", daemon=True)
    thread.start()
    return thread
