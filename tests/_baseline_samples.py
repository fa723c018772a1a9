"""An easy two-mode problem and a spec-built baseline trained on it, for the network tests."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loop import FitConfig, FitResult, fit
from emma_plugins.training.loss import ClassificationLoss

SHAPES = [(4,), (2, 3)]


def baseline_spec(kind: str, out_features: int = 1, **params: Any) -> dict[str, Any]:
    """Two modes (4 values, then 2x3), attention disabled, the network ``kind``."""
    return {
        "spec_version": 1,
        "modes": [
            {"name": "a", "width": 4, "estimator": {"kind": "dae", "hidden": 3}},
            {"name": "b", "shape": [2, 3], "estimator": {"kind": "dae", "hidden": 3}},
        ],
        "attention": {"enabled": False},
        "network": {"kind": kind, **params},
        "out_features": out_features,
    }


def easy_split(n: int = 96, n_classes: int = 2, seed: int = 0) -> TensorSplit:
    """Labels follow mode ``a``; mode ``b`` is noise."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, 4, generator=g)
    b = torch.randn(n, 2, 3, generator=g)
    if n_classes == 2:
        y = (a[:, 0] + a[:, 1] > 0).long()
    else:
        y = torch.bucketize(a[:, 0], torch.tensor([-0.5, 0.5]))
    return TensorSplit.clean([a, b], y)


def modes(n: int = 5, seed: int = 1) -> list[Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, *shape, generator=g) for shape in SHAPES]


def objective(model: EmmaModel, split: TensorSplit, loss: ClassificationLoss, epoch: int) -> float:
    """The network's training objective on a whole split, at a fixed epoch."""
    network: Any = model.network
    with torch.no_grad():
        output = model(split.modes).output
        if hasattr(network, "begin_fit"):
            network.begin_fit(len(split))
        value = network.training_loss(
            output, split.y, epoch=epoch, base_loss=loss, index=torch.arange(len(split))
        )
    return float(value)


def train(
    kind: str, epochs: int = 8, out_features: int = 1, **params: Any
) -> tuple[EmmaModel, FitResult, TensorSplit, ClassificationLoss]:
    """Build ``kind`` from a spec and fit it on the easy problem."""
    n_classes = max(2, out_features)
    split = easy_split(n_classes=n_classes)
    val = easy_split(n=48, n_classes=n_classes, seed=5)
    torch.manual_seed(0)
    model = build(baseline_spec(kind, out_features, **params))
    loss = ClassificationLoss(split.y, n_classes)
    config = FitConfig(epochs=epochs, batch_size=16, lr=2e-2, progress=False)
    return model, fit(model, split, val, loss, config), split, loss
