"""Speed and memory of the attention module (forward + backward), printed as ratios.

Compares, for N samples and M = 2, 4, 8, 16 modes of width 4:

* ``emma``: `EnergyAttention` with the default stages (coupled, boltzmann, shared_tanh);
  "stages" uses a free estimator (the potential is a column of the input), "+dae" the
  tied DAE of each mode;
* ``loop``: a straightforward implementation in the style of the original code, with a
  Python loop over modes and over mode pairs (written here, for reference only);
* ``linear``: one ``nn.Linear`` over the concatenated modes, for scale.

Peak memory is the growth of the resident set during one forward + backward, sampled
from ``/proc/self/statm`` (Linux), divided by N. Run ``python benchmarks/attention_speed.py``
(``--quick`` for a seconds-long smoke run). Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from emma_plugins import TiedDAE
from emma_plugins.attention import build_attention
from emma_plugins.estimators import EnergyEstimator

WIDTH = 4


class ColumnPotential(EnergyEstimator):
    """A free estimator: the potential is the first feature (isolates the stages' cost)."""

    def __init__(self) -> None:
        super().__init__()
        self.potential_min.fill_(-3.0)
        self.grad_norm_min.fill_(1.0)

    def potential(self, x: Tensor) -> Tensor:
        return x[:, 0]


class LoopAttention(nn.Module):
    """EMMA written the straightforward way: loops over modes and mode pairs."""

    def __init__(self, estimators: Sequence[nn.Module], minima: Sequence[float]) -> None:
        super().__init__()
        m = len(estimators)
        self.estimators = nn.ModuleList(estimators).requires_grad_(False)
        self.minima = list(minima)
        self.w = nn.ParameterList([nn.Parameter(torch.tensor(1.0)) for _ in range(m)])
        self.b = nn.ParameterList([nn.Parameter(torch.tensor(0.0)) for _ in range(m)])
        self.gamma = nn.Parameter(torch.full((m, m), 0.5))
        self.pair = nn.Parameter((torch.rand(m, m) * 2 - 1) / (m - 1))
        self.gain = nn.Parameter(torch.tensor(1.0))
        self.bias = nn.Parameter(torch.tensor(0.0))

    def forward(self, modes: Sequence[Tensor]) -> tuple[list[Tensor], Tensor, Tensor]:
        m = len(modes)
        with torch.no_grad():
            psi = [est.potential(x) for est, x in zip(self.estimators, modes, strict=True)]
        psi = [
            torch.clamp_min(p - mn + math.e, math.e) for p, mn in zip(psi, self.minima, strict=True)
        ]
        e = [self.w[i] * psi[i] + self.b[i] for i in range(m)]
        energies = []
        for i in range(m):
            energy = e[i]
            for j in range(m):
                if j != i:
                    g = self.gamma[i, j]
                    energy = energy + self.pair[i, j] * e[i] ** g * e[j] ** (1 - g)
            energies.append(energy)
        modal = torch.stack(energies, dim=1)
        log_alpha = torch.log_softmax(-modal, dim=1)
        beta = torch.relu(torch.tanh(self.gain * log_alpha.exp() - self.bias))
        return [beta[:, i : i + 1] * x for i, x in enumerate(modes)], modal, log_alpha


class LinearBaseline(nn.Module):
    def __init__(self, m: int) -> None:
        super().__init__()
        self.linear = nn.Linear(m * WIDTH, m * WIDTH)

    def forward(self, modes: Sequence[Tensor]) -> tuple[list[Tensor], Tensor, Tensor]:
        out = self.linear(torch.cat(list(modes), dim=1))
        return [out], out[:, :1], out[:, :1]


def _estimators(m: int, dae: bool) -> list[EnergyEstimator]:
    if not dae:
        return [ColumnPotential() for _ in range(m)]
    estimators: list[EnergyEstimator] = []
    for i in range(m):
        estimator = TiedDAE(WIDTH, hidden=12, seed=i)
        estimator.calibrate(torch.randn(256, WIDTH))
        estimators.append(estimator)
    return estimators


def make_step(kind: str, m: int, dae: bool) -> Callable[[list[Tensor]], None]:
    """One forward + backward of implementation ``kind`` on ``m`` modes."""
    estimators = _estimators(m, dae)
    if kind == "emma":
        attention = build_attention(estimators, [(WIDTH,)] * m)

        def step(modes: list[Tensor]) -> None:
            outputs, report = attention(modes)
            loss = sum(out.sum() for out in outputs) + report.log_importance.mean()
            loss.backward()

        return step
    module: nn.Module
    if kind == "loop":
        minima = [float(est.score_min("potential")) for est in estimators]
        module = LoopAttention(estimators, minima)
    else:
        module = LinearBaseline(m)

    def reference_step(modes: list[Tensor]) -> None:
        outputs, _, log_alpha = module(modes)
        loss = sum(out.sum() for out in outputs) + log_alpha.mean()
        loss.backward()

    return reference_step


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _release_free_memory() -> None:
    """Return freed heap pages to the OS (glibc), so RSS growth shows this call's peak."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def peak_memory(step: Callable[[list[Tensor]], None], modes: list[Tensor]) -> float:
    """Resident-set growth (bytes) during one call, sampled every 0.2 ms; NaN off Linux."""
    if not os.path.exists("/proc/self/statm"):
        return math.nan
    _release_free_memory()
    base = _rss_bytes()
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_bytes())
            time.sleep(0.0002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    step(modes)
    done.set()
    sampler.join()
    return float(max(peak, _rss_bytes()) - base)


def measure(kind: str, m: int, n: int, dae: bool, repeats: int) -> tuple[float, float]:
    """(CPU seconds of the best forward + backward, peak bytes) for one configuration.

    CPU time (all threads of this process) rather than wall time, so that other work on a
    shared machine inflates the figures less.
    """
    torch.manual_seed(0)
    step = make_step(kind, m, dae)
    modes = [torch.randn(n, WIDTH) for _ in range(m)]
    step(modes)  # warm up
    memory = peak_memory(step, modes)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        step(modes)
        times.append(time.process_time() - start)
    return min(times), memory


def run(n: int, mode_counts: Sequence[int], repeats: int) -> list[dict[str, float]]:
    rows = []
    print(
        f"N = {n} samples, width {WIDTH} per mode, CPU time of forward + backward, "
        f"{torch.get_num_threads()} threads"
    )
    header = (
        f"{'M':>3} {'potentials':>10} {'emma ms':>9} {'loop ms':>9} {'linear ms':>9} "
        f"{'loop/emma':>9} {'emma/lin':>9} {'emma B/sample':>13} {'loop B/sample':>13}"
    )
    print(header)
    for dae in (False, True):
        for m in mode_counts:
            emma_t, emma_mem = measure("emma", m, n, dae, repeats)
            loop_t, loop_mem = measure("loop", m, n, dae, repeats)
            lin_t, _ = measure("linear", m, n, dae, repeats)
            row = {
                "M": m,
                "dae": dae,
                "emma_s": emma_t,
                "loop_s": loop_t,
                "linear_s": lin_t,
                "emma_bytes": emma_mem / n,
                "loop_bytes": loop_mem / n,
            }
            rows.append(row)
            print(
                f"{m:>3} {'dae' if dae else 'given':>10} {emma_t * 1e3:>9.2f} {loop_t * 1e3:>9.2f} "
                f"{lin_t * 1e3:>9.2f} {loop_t / emma_t:>9.1f} {emma_t / lin_t:>9.1f} "
                f"{emma_mem / n:>13.0f} {loop_mem / n:>13.0f}"
            )
    for dae in (False, True):
        subset = [r for r in rows if r["dae"] == dae]
        for small, large in itertools.pairwise(subset):
            growth = large["emma_s"] / small["emma_s"]
            exponent = math.log(growth) / math.log(large["M"] / small["M"])
            print(
                f"growth {'dae' if dae else 'given'} M {small['M']:>2} -> {large['M']:>2}: "
                f"time x{growth:.2f} (~M^{exponent:.2f}; target exponent <= 2)"
            )
    return rows


def main(argv: Sequence[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--samples", type=int, default=65_536)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: robust on a busy machine)"
    )
    args = parser.parse_args(argv)
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        if args.quick:
            return run(256, [2, 4], repeats=1)
        return run(args.samples, [2, 4, 8, 16], repeats=args.repeats)
    finally:
        torch.set_num_threads(previous)


if __name__ == "__main__":
    main()
