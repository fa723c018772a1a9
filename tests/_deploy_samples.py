"""A small spec the deploy and command tests train: breast cancer, three modes, few epochs."""

from __future__ import annotations

from typing import Any


def small_spec(**training: Any) -> dict[str, Any]:
    """The quickstart's model with few epochs: about two seconds to fit."""
    return {
        "spec_version": 1,
        "modes": [
            {"name": name, "width": 10, "estimator": {"kind": "dae", "hidden": 8}}
            for name in ("mean", "error", "worst")
        ],
        "attention": {"importance": {"kind": "boltzmann", "rho": 0.01}},
        "network": {"kind": "mlp", "hidden": [8]},
        "data": {"dataset": {"kind": "breast_cancer"}},
        "training": {"base_epochs": 3, "epochs": 3, "batch_size": 64, "lr": 0.01, **training},
    }
