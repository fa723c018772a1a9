"""A small ``emma run`` spec the resume and cluster tests share: breast cancer, 3 seeds."""

from __future__ import annotations

from typing import Any

SPEC: dict[str, Any] = {
    "spec_version": 1,
    "modes": [
        {"name": n, "width": 10, "estimator": {"kind": "dae", "hidden": 6, "epochs": 3}}
        for n in ("mean", "error", "worst")
    ],
    "attention": {"importance": {"kind": "boltzmann", "rho": 0.01}},
    "network": {"kind": "mlp", "hidden": [8]},
    "data": {"dataset": {"kind": "breast_cancer"}},
    "training": {"base_epochs": 2, "epochs": 2, "batch_size": 64},
    "evaluation": {"seeds": [0, 1, 2], "noise_draws": 1},
}
