"""Speed of the deep structured energy estimators (``cnn``, ``lstm``), printed as ratios.

For each kind, on a batch of realistic samples:

* ``potential/phi``: evaluating the potential against a plain forward pass of the same
  feature network ``phi`` (target <= 1.5: the quadratic term and the experts are cheap);
* ``grad_norm/phi``: the gradient-norm score, which needs a backward pass, against the
  same forward pass (target <= 4);
* ``s/epoch``: one epoch of denoising score matching (a double backward) on the full
  training set: 1,797 8x8 digits (scikit-learn's, shipped with it) for ``cnn``, 3,000
  sequences of shape (32, 32) for ``lstm``.

Estimators are evaluated as EMMA uses them: fitted, in eval mode, weights frozen. Times
are the fastest of several interleaved runs, the least disturbed by other load. Needs the emma-cnn
and emma-lstm distributions installed. Run ``python benchmarks/estimator_speed.py``
(``--quick`` for a seconds-long smoke run, ``--threads`` for the intra-op threads, 2 by
default). Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import NamedTuple

import torch
from sklearn.datasets import load_digits
from torch import Tensor

from emma_plugins import get_registry
from emma_plugins.estimators import StructuredEnergy


class Case(NamedTuple):
    kind: str
    shape: tuple[int, ...]
    train_size: int
    params: dict[str, object]


def cases(quick: bool) -> list[Case]:
    if quick:
        return [
            Case("cnn", (1, 8, 8), 128, {"channels": [4], "features": 8, "experts": 8}),
            Case("lstm", (8, 4), 128, {"hidden": 8, "experts": 8}),
        ]
    return [Case("cnn", (1, 8, 8), 1797, {}), Case("lstm", (32, 32), 3000, {})]


def training_samples(case: Case) -> Tensor:
    """Digits for 8x8 images (the realistic set), standard normal sequences otherwise."""
    if case.shape == (1, 8, 8):
        digits = torch.tensor(load_digits().images, dtype=torch.float32) / 16.0
        return digits[: case.train_size].unsqueeze(1)
    generator = torch.Generator().manual_seed(0)
    return torch.randn(case.train_size, *case.shape, generator=generator)


def build(case: Case) -> StructuredEnergy:
    estimator = (
        get_registry("estimator")
        .get(case.kind)
        .build({**case.params, "epochs": 1}, shape=case.shape)
    )
    assert isinstance(estimator, StructuredEnergy)
    return estimator


def fastest(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Fastest wall time of each run, after a warm-up call, with the runs interleaved so
    that a burst of other load on the machine slows all of them, not one."""
    best = {name: float("inf") for name in runs}
    for run in runs.values():
        run()
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def measure(case: Case, batch: int, repeats: int) -> dict[str, float | str]:
    x = training_samples(case)
    build(case).fit(x[:8], progress=False)  # the first fit of a process pays set-up costs
    estimator = build(case)
    start = time.perf_counter()
    estimator.fit(x, progress=False)  # one epoch; fit leaves it in eval mode
    epoch_s = time.perf_counter() - start
    estimator.requires_grad_(False)  # frozen, as after stage 1
    queries = x[:batch]

    @torch.no_grad()
    def phi() -> Tensor:
        out: Tensor = estimator.phi(queries)
        return out

    @torch.no_grad()
    def potential() -> Tensor:
        return estimator.potential(queries)

    def grad_norm() -> Tensor:  # what the attention calls for energy_input: grad_norm
        return estimator.scores(queries)["grad_norm"]

    best = fastest({"phi": phi, "potential": potential, "scores": grad_norm}, repeats)
    return {
        "kind": case.kind,
        "shape": "x".join(map(str, case.shape)),
        "phi_ms": 1e3 * best["phi"],
        "potential/phi": best["potential"] / best["phi"],
        "scores/phi": best["scores"] / best["phi"],
        "train_size": float(len(x)),
        "s/epoch": epoch_s,
    }


def main(argv: list[str] | None = None) -> list[dict[str, float | str]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    args = parser.parse_args(argv)
    batch, repeats = (64, 3) if args.quick else (512, 20)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        rows = [measure(case, batch, repeats) for case in cases(args.quick)]
    finally:
        torch.set_num_threads(previous_threads)
    print(
        f"{args.threads} thread(s), evaluation batch {batch}; "
        "targets: potential/phi <= 1.5, scores/phi <= 4"
    )
    print(
        f"{'kind':6} {'shape':8} {'phi ms':>8} {'potential/phi':>14} {'scores/phi':>11} "
        f"{'train':>6} {'s/epoch':>8}"
    )
    for row in rows:
        print(
            f"{row['kind']:6} {row['shape']:8} {row['phi_ms']:8.2f} "
            f"{row['potential/phi']:14.2f} {row['scores/phi']:11.2f} "
            f"{row['train_size']:6.0f} {row['s/epoch']:8.2f}"
        )
    return rows


if __name__ == "__main__":
    main()
