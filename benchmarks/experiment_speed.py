"""Speed of one seed of experiment 1 (base, without, with) against a plain PyTorch loop.

Both sides train the same three models on the same seed's splits with the thesis'
settings (30 epochs, batch 32, Adam 1e-3, the validation loss each epoch, the best state
restored):

* ``library``: `emma_lab.experiments.comparison.run_seed`, which also chooses thresholds
  and scores every model on test (both evaluations), so it does strictly more work;
* ``plain``: a straightforward per-batch loop written below, over the same models (the
  estimators are fitted with their own ``fit``, as the library does).

Data: HTRU2 when ``EMMA_DATA_DIR`` holds it, else scikit-learn's breast-cancer data.
Run ``python benchmarks/experiment_speed.py`` (``--quick`` for a seconds-long smoke run).
Times are the best of ``--repeats`` runs, alternating the order of the two sides; the
ratio uses process CPU time (one torch thread), which a loaded machine distorts far less
than wall time. Not a test: nothing here asserts a speed. plain/library should be >= 1.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from emma_lab.experiments.comparison import Experiment, run_seed, seeded_model
from emma_lab.experiments.protocol import SeedData
from emma_lab.experiments.runner import select_modes
from torch import Tensor, nn

from emma_plugins.attention import capacity_penalty, energy_regularizer
from emma_plugins.sources import MultiModalData, load_breast_cancer
from emma_plugins.spec import EmmaSpec, TrainingSpec, parse_spec
from emma_plugins.spec.overrides import TrainingOverrides, override
from emma_plugins.training.batches import TensorSplit


def _dae(epochs: int) -> dict[str, Any]:
    return {"kind": "dae", "hidden": 12, "sigma": 0.01, "epochs": epochs, "batch_size": 64}


def htru2_or_breast_cancer(dae_epochs: int) -> tuple[MultiModalData, EmmaSpec]:
    """HTRU2 and the thesis' model when the data directory has it, else breast cancer."""
    root = os.environ.get("EMMA_DATA_DIR")
    if root and os.path.isdir(os.path.join(root, "htru2")):
        from emma_lab.datasets.htru2 import load_htru2

        data = load_htru2(root)
        modes: list[dict[str, Any]] = [
            {"name": "ip", "columns": [0, 1, 2, 3], "estimator": _dae(dae_epochs)},
            {"name": "dm_snr", "columns": [4, 5, 6, 7], "estimator": _dae(dae_epochs)},
        ]
    else:
        data = load_breast_cancer()
        modes = [
            {"name": name, "width": 10, "estimator": _dae(dae_epochs)}
            for name in ("mean", "error", "worst")
        ]
    spec = parse_spec(
        {
            "spec_version": 1,
            "modes": modes,
            "attention": {"importance": {"kind": "boltzmann", "rho": 1e-4}},
            "network": {"kind": "mlp", "hidden": [8, 4]},
            "out_features": 1,
        }
    )
    return select_modes(data, spec), spec


# -- the plain reference ---------------------------------------------------------------------
def weighted_bce(logits: Tensor, y: Tensor, weights: Tensor) -> Tensor:
    w = weights[y.long()]
    losses = F.binary_cross_entropy_with_logits(logits.squeeze(-1), y.float(), reduction="none")
    return (w * losses).sum() / w.sum()


def plain_fit(
    model: nn.Module,
    train: TensorSplit,
    val: TensorSplit,
    weights: Tensor,
    training: TrainingSpec,
    epochs: int,
    regularized: bool,
) -> None:
    """Adam over shuffled mini-batches, the validation loss each epoch, best state kept."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=training.lr)
    attention = getattr(model, "attention", None)
    best, best_state = float("inf"), None
    for _ in range(epochs):
        model.train()
        if attention is not None:
            attention.estimators.eval()
        for index in torch.randperm(len(train), generator=generator).split(training.batch_size):
            modes = [m[index] for m in train.modes]
            out = model(modes, train.missing[index])
            loss = weighted_bce(out.output, train.y[index], weights)
            if regularized and attention is not None:
                loss = loss + training.lambda_c * capacity_penalty(attention)
                loss = loss + training.lambda_e * energy_regularizer(out.report, train.xi[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if attention is not None:
                attention.constrain_()
        model.eval()
        with torch.no_grad():
            val_loss = float(weighted_bce(model(val.modes, val.missing).output, val.y, weights))
        if val_loss < best:
            best, best_state = val_loss, copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)


def plain_seed(experiment: Experiment, data: SeedData) -> None:
    """base, without and with, trained by `plain_fit`."""
    training = experiment.spec.resolved_training
    y = data.clean["train"].y
    counts = torch.bincount(y.long(), minlength=2).float()
    weights = counts.sum() / (2 * counts)
    base = seeded_model(experiment.base, data.seed)
    clean, mixed = (
        (data.clean["train"], data.clean["val"]),
        (data.mixed["train"], data.mixed["val"]),
    )
    plain_fit(base, *clean, weights, training, training.base_epochs, False)
    without = copy.deepcopy(base)
    plain_fit(without, *mixed, weights, training, training.epochs, False)
    with_ = seeded_model(experiment.variants[0].spec, data.seed)
    with_.fit_estimators(data.clean["train"].modes, progress=False)
    with_.network.load_state_dict(base.network.state_dict())
    plain_fit(with_, *mixed, weights, training, training.epochs, True)


def experiment_of(spec: EmmaSpec, epochs: int) -> Experiment:
    """Base, without and with of ``spec`` with ``epochs`` per stage, on seed 0."""
    changes = TrainingOverrides(base_epochs=epochs, epochs=epochs, batch_size=32)
    return Experiment.from_spec(
        override(spec, training=changes), seeds=[0], progress=False, variants=[], baselines=[]
    )


def run(epochs: int, dae_epochs: int, repeats: int, rows: int | None) -> dict[str, float]:
    data, spec = htru2_or_breast_cancer(dae_epochs)
    if rows is not None:
        data = data.subset(list(range(min(rows, len(data)))))
    experiment = experiment_of(spec, epochs)
    seed_data = experiment.prepare(data, 0)
    print(
        f"{data.name}: {len(data)} rows ({len(seed_data.clean['train'])} train), "
        f"{epochs} epochs, batch {experiment.spec.resolved_training.batch_size}, "
        f"DAE epochs {dae_epochs}, {torch.get_num_threads()} torch thread(s), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    tiny = experiment_of(spec, 1)
    warm = tiny.prepare(data.subset(list(range(200))), 0)
    run_seed(tiny, warm)  # first calls (lazy imports, allocator) are not timed
    plain_seed(tiny, warm)
    timings: dict[str, list[tuple[float, float]]] = {"library": [], "plain": []}
    sides = {
        "library": lambda: run_seed(experiment, seed_data),
        "plain": lambda: plain_seed(experiment, seed_data),
    }
    for repeat in range(repeats):  # alternate the order, so drifting load hits both sides
        for name in sorted(sides, reverse=bool(repeat % 2)):
            wall, cpu = time.perf_counter(), time.process_time()
            sides[name]()
            timings[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    lib_wall, lib_cpu = (min(t[i] for t in timings["library"]) for i in (0, 1))
    plain_wall, plain_cpu = (min(t[i] for t in timings["plain"]) for i in (0, 1))
    print(f"{'':48} {'wall s':>8} {'CPU s':>8}")
    print(f"{'library (train + thresholds + test evaluation)':48} {lib_wall:8.2f} {lib_cpu:8.2f}")
    print(f"{'plain loop (train + validation only)':48} {plain_wall:8.2f} {plain_cpu:8.2f}")
    ratio = plain_cpu / lib_cpu
    print(
        f"ratio plain / library: {ratio:.2f} on CPU time, {plain_wall / lib_wall:.2f} on wall "
        "time (>= 1 means the library is not slower; CPU time is robust to machine load)"
    )
    return {
        "library_s": lib_cpu,
        "plain_s": plain_cpu,
        "ratio": ratio,
        "library_wall_s": lib_wall,
        "plain_wall_s": plain_wall,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--repeats", type=int, default=2, help="best of N alternating runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        return run(epochs=1, dae_epochs=1, repeats=1, rows=200)
    return run(epochs=30, dae_epochs=30, repeats=args.repeats, rows=None)


if __name__ == "__main__":
    main()
