"""Stacked against sequential training of K small models, and the memory stacking takes.

Times, on one torch thread, K = 1, 10, 50 and 125 members of

* ``network``: the thesis' HTRU2 base network (an 8-8-4-1 ``mlp`` on two modes of four
  features, batch 32, Adam 1e-3, attention disabled), trained by
  `emma_plugins.training.stacked.fit_stacked_networks` against one `loop.fit` per model;
* ``dae``: the tied DAE (4 -> 12, batch 64) of one mode, fitted by
  `fit_stacked_estimators` against one `TiedDAE.fit` per model;
* ``emma``: the EMMA model of ``examples/htru2.yaml`` in stage 2 (estimators fitted once and
  shared; members over the lab's grid of rho, lambda_c, lambda_e) on a corrupted mix,
  trained by `fit_networks` (`fit_stacked_emma`) against one `loop.fit` per model; K up to
  50 unless ``--ks`` is given.

The sequential time per model does not depend on K, so it is measured once on a few
models (``--sequential``, default 3) and each K's ratio is ``sequential per model /
(stacked time / K)``. Times are process CPU seconds (one thread, so the work itself,
whatever else the machine runs); wall seconds are printed too.

Memory: the bytes of the shared training data, what K copies would take, and the largest
tensor any torch call returns during one stacked epoch at the largest K (recorded by a
``TorchFunctionMode``): stacking gathers each ``[K, B, ...]`` batch from the one shared
tensor, so the largest tensor is the ``[K, n]`` permutations, not K copies of the data.

Data: HTRU2 when ``EMMA_DATA_DIR/htru2/HTRU_2.csv`` exists (standardised; 12,528 training
and 2,684 validation rows, a 70/15 split), else 12,000 generated rows. ``--quick``: K = 1
and 4 on 1,000 rows, seconds. Not a test: nothing here asserts a speed.

    python benchmarks/ensemble_speed.py              # K = 1, 10, 50, 125; 3 epochs
    python benchmarks/ensemble_speed.py --quick
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

from emma_plugins import TiedDAE, build, parse_spec
from emma_plugins.training import ClassificationLoss, FitConfig, TensorSplit, fit
from emma_plugins.training.stacked import (
    fit_networks,
    fit_stacked_estimators,
    fit_stacked_networks,
)

SPEC: dict[str, Any] = {
    "spec_version": 1,
    "modes": [
        {"name": "ip", "width": 4, "estimator": {"kind": "dae"}},
        {"name": "dm_snr", "width": 4, "estimator": {"kind": "dae"}},
    ],
    "attention": {"enabled": False},
    "network": {"kind": "mlp", "hidden": [8, 4]},
    "out_features": 1,
}


#: The EMMA model of HTRU2 (``examples/htru2.yaml``): two tied DAEs of 12 hidden units, the
#: coupled modal energy, the Boltzmann importance and the shared tanh gate before the mlp.
EMMA_SPEC: dict[str, Any] = SPEC | {
    "modes": [
        {"name": name, "width": 4, "estimator": {"kind": "dae", "hidden": 12, "sigma": 0.01}}
        for name in ("ip", "dm_snr")
    ],
    "attention": {
        "energy_input": "potential",
        "apply_to": "inputs",
        "correction": {"kind": "min_shift"},
        "modal_energy": {"kind": "coupled"},
        "importance": {"kind": "boltzmann", "rho": 1e-4},
        "gate": {"kind": "shared_tanh"},
    },
}
#: The lab's grid: 5 x 5 x 5 = 125 settings of (rho, lambda_c, lambda_e).
GRID = [
    (rho, lc, le)
    for rho in (1e-4, 1e-3, 1e-2, 0.1, 1.0)
    for lc in (0.0, 1e-3, 1e-2, 0.1, 1.0)
    for le in (0.0, 1e-3, 1e-2, 0.1, 1.0)
]


def corrupted(split: TensorSplit) -> TensorSplit:
    """The corrupted mix of stage 2: one mode of every third row replaced by noise (xi -1)."""
    g = torch.Generator().manual_seed(1)
    modes = [mode.clone() for mode in split.modes]
    xi = split.xi.clone()
    rows = torch.arange(0, len(split), 3)
    which = torch.randint(0, 2, (len(rows),), generator=g)
    for i in range(2):
        chosen = rows[which == i]
        modes[i][chosen] = 3 * torch.randn(len(chosen), 4, generator=g)
        xi[chosen, i] = -1.0
    return TensorSplit(modes, split.y, split.missing, xi)


_FITTED: dict[int, Any] = {}


def emmas(k: int, train: TensorSplit) -> list[Any]:
    """``k`` EMMA models of the grid, sharing one fit of the estimators (on clean data)."""
    if id(train) not in _FITTED:
        torch.manual_seed(0)
        source = build(parse_spec(EMMA_SPEC))
        source.fit_estimators(train.modes, progress=False)
        _FITTED[id(train)] = source.attention.estimators.state_dict()
    models = []
    for seed in range(k):
        rho = GRID[seed % len(GRID)][0]
        spec = EMMA_SPEC | {
            "attention": EMMA_SPEC["attention"] | {"importance": {"kind": "boltzmann", "rho": rho}}
        }
        torch.manual_seed(seed)
        model = build(parse_spec(spec))
        model.attention.estimators.load_state_dict(_FITTED[id(train)])
        model.attention.calibrate_()
        with torch.no_grad():
            model.attention.constrain_()
        models.append(model)
    return models


def emma_configs(k: int, epochs: int) -> list[FitConfig]:
    return [
        FitConfig(
            epochs=epochs,
            seed=s,
            lr=1e-3,
            batch_size=32,
            lambda_c=GRID[s % len(GRID)][1],
            lambda_e=GRID[s % len(GRID)][2],
            progress=False,
        )
        for s in range(k)
    ]


def load_data(quick: bool) -> tuple[TensorSplit, TensorSplit, str]:
    """HTRU2 (or generated rows of its size) as training and validation splits."""
    path = Path(os.environ.get("EMMA_DATA_DIR", "")) / "htru2" / "HTRU_2.csv"
    if os.environ.get("EMMA_DATA_DIR") and path.is_file():
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        order = np.random.default_rng(0).permutation(len(table))
        table = table[order]
        x, y = table[:, :8], table[:, 8]
        n_train, n_val = int(0.7 * len(table)), int(0.15 * len(table))
        source = "HTRU2"
    else:
        rng = np.random.default_rng(0)
        n_train, n_val = 12_000, 2_500
        x = rng.standard_normal((n_train + n_val, 8))
        y = (x[:, 0] + x[:, 4] + 0.5 * rng.standard_normal(len(x)) > 1.5).astype(float)
        source = "generated"
    if quick:
        n_train, n_val = 1_000, 250
    mean, std = x[:n_train].mean(axis=0), x[:n_train].std(axis=0) + 1e-12
    data = torch.as_tensor((x - mean) / std, dtype=torch.float32)
    labels = torch.as_tensor(y, dtype=torch.long)

    def split(rows: slice) -> TensorSplit:
        part = data[rows]
        return TensorSplit.clean([part[:, :4].contiguous(), part[:, 4:].contiguous()], labels[rows])

    return split(slice(0, n_train)), split(slice(n_train, n_train + n_val)), source


def networks(k: int) -> list[Any]:
    models = []
    for seed in range(k):
        torch.manual_seed(seed)
        models.append(build(parse_spec(SPEC)))
    return models


def configs(k: int, epochs: int) -> list[FitConfig]:
    return [
        FitConfig(epochs=epochs, seed=s, lr=1e-3, batch_size=32, progress=False) for s in range(k)
    ]


def daes(k: int, epochs: int) -> list[TiedDAE]:
    return [TiedDAE(4, hidden=12, epochs=epochs, seed=s) for s in range(k)]


def timed(run: Callable[[], Any]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


class LargestTensor(TorchFunctionMode):
    """The most bytes of any tensor a torch call returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_function__(
        self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Any = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, tuple | list) else (out,):
            if isinstance(value, Tensor):
                self.largest = max(self.largest, value.numel() * value.element_size())
        return out


def run(
    kind: str, ks: Sequence[int], n_sequential: int, epochs: int, data: Any
) -> list[dict[str, Any]]:
    train, val = data
    loss = ClassificationLoss(train.y, 2)
    x = train.modes[0]  # the DAE of the first mode

    mix, mix_val = corrupted(train), corrupted(val)

    def sequential(k: int) -> Callable[[], Any]:
        if kind == "emma":
            models, cfgs = emmas(k, train), emma_configs(k, epochs)
            return lambda: [
                fit(m, mix, mix_val, loss, c) for m, c in zip(models, cfgs, strict=True)
            ]
        if kind == "network":
            models, cfgs = networks(k), configs(k, epochs)
            return lambda: [fit(m, train, val, loss, c) for m, c in zip(models, cfgs, strict=True)]
        estimators = daes(k, epochs)
        return lambda: [e.fit(x, progress=False) for e in estimators]

    def stacked(k: int) -> Callable[[], Any]:
        if kind == "emma":
            models, cfgs = emmas(k, train), emma_configs(k, epochs)
            return lambda: fit_networks(models, mix, mix_val, loss, cfgs)  # K = 1: loop.fit
        if kind == "network":
            models, cfgs = networks(k), configs(k, epochs)
            return lambda: fit_stacked_networks(models, train, val, loss, cfgs)
        estimators = daes(k, epochs)
        return lambda: fit_stacked_estimators(estimators, x)

    stacked(2)()  # warm up both paths (lazy imports, allocator)
    sequential(1)()
    cpu, wall = timed(sequential(n_sequential))
    seq_cpu, seq_wall = cpu / n_sequential, wall / n_sequential
    print(
        f"\n{kind}: {epochs} epochs on {len(train)} rows; sequential: {seq_cpu:.3f} s CPU "
        f"({seq_wall:.3f} s wall) per model, measured on {n_sequential} models"
    )
    print(f"{'K':>5} {'stacked s':>10} {'s/model':>9} {'seq s/model':>11} {'seq/stacked':>11}")
    rows = []
    for k in ks:
        cpu, wall = timed(stacked(k))
        row = {
            "kind": kind,
            "K": k,
            "stacked_s": cpu,
            "stacked_wall_s": wall,
            "per_model_s": cpu / k,
            "sequential_per_model_s": seq_cpu,
            "ratio": seq_cpu / (cpu / k),
            "ratio_wall": seq_wall / (wall / k),
        }
        rows.append(row)
        print(
            f"{k:>5} {cpu:>10.3f} {cpu / k:>9.4f} {seq_cpu:>11.4f} {row['ratio']:>10.1f}x"
            f"   (wall {row['ratio_wall']:.1f}x)"
        )
    return rows


def memory(k: int, data: Any) -> dict[str, int]:
    """Data bytes, K copies' bytes and the largest tensor of one stacked epoch at ``k``."""
    train, val = data
    loss = ClassificationLoss(train.y, 2)
    one = sum(m.numel() * m.element_size() for m in train.modes)
    models = networks(k)
    with LargestTensor() as record:
        fit_stacked_networks(models, train, val, loss, configs(k, 1))
    estimators = daes(k, 1)
    with LargestTensor() as dae_record:
        fit_stacked_estimators(estimators, train.modes[0])
    result = {
        "K": k,
        "data_bytes": one,
        "k_copies_bytes": k * one,
        "largest_tensor_network": record.largest,
        "largest_tensor_dae": dae_record.largest,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(
        f"\nmemory at K = {k}: training data {one / 1e6:.2f} MB (K copies would be "
        f"{k * one / 1e6:.1f} MB); largest tensor of a stacked epoch: network "
        f"{record.largest / 1e6:.2f} MB, dae {dae_record.largest / 1e6:.2f} MB (the [K, n] "
        f"permutations, or one DAE's calibration activations); process peak RSS "
        f"{result['peak_rss_bytes'] / 1e6:.0f} MB"
    )
    return result


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K = 1, 4 on 1,000 rows")
    parser.add_argument("--ks", type=int, nargs="+", default=None, help="default 1 10 50 125")
    parser.add_argument("--epochs", type=int, default=None, help="default 3 (quick: 1)")
    parser.add_argument("--sequential", type=int, default=None, help="models timed one by one")
    parser.add_argument("--kinds", nargs="+", default=["network", "dae", "emma"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    ks = args.ks or ([1, 4] if args.quick else [1, 10, 50, 125])
    epochs = args.epochs or (1 if args.quick else 3)
    n_sequential = args.sequential or (2 if args.quick else 3)
    train, val, source = load_data(args.quick)
    print(
        f"data: {source}, {len(train)} training and {len(val)} validation rows; "
        f"{torch.get_num_threads()} torch thread; load average "
        f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    rows: list[dict[str, Any]] = []
    for kind in args.kinds:
        # EMMA (stage 2) at K up to 50 unless --ks says otherwise: the lab's grid is 125
        kind_ks = [k for k in ks if k <= 50] if kind == "emma" and not args.ks else ks
        rows += run(kind, kind_ks, n_sequential, epochs, (train, val))
    rows.append(memory(max(ks), (train, val)))
    return rows


if __name__ == "__main__":
    main()
