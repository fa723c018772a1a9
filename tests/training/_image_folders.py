"""The spec the streaming tests train on a generated image folder
(`emma_plugins.testing.folders.write_image_folder`)."""

from __future__ import annotations

from typing import Any


def streaming_spec(folder: str, size: int = 16, **loader: Any) -> dict[str, Any]:
    """A small CNN-free spec over the generated folder (flat DAE estimators, an MLP)."""
    return {
        "spec_version": 1,
        "modes": [
            {
                "name": v,
                "shape": [1, size, size],
                "estimator": {"kind": "dae", "hidden": 16, "epochs": 3},
            }
            for v in ("left", "right")
        ],
        "network": {"kind": "mlp", "hidden": [16]},
        "data": {
            "dataset": {
                "kind": "image_folder",
                "path": folder,
                "label": "label",
                "modes": {"left": "left", "right": "right"},
                "channels": 1,
            }
        },
        "training": {
            "base_epochs": 2,
            "epochs": 2,
            "batch_size": 64,
            "lr": 0.005,
            "loader": {"stream": True, **loader},
        },
    }
