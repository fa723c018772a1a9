"""What one seed of a robustness experiment shares: splits, tensors and corrupted copies.

Every model of a seed sees the same splits, the same corrupted mixes and the same
evaluation noise, so per-seed differences between models are paired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor, nn

from emma_lab.metrics.metrics import task_metric
from emma_plugins.corruptions import CorruptionScheme
from emma_plugins.sources import MultiModalData
from emma_plugins.sources.splits import TRAIN_FRACTION
from emma_plugins.spec.sections import CorruptionTrainingSpec
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loss import positive_scores
from emma_plugins.training.prepare import prepare
from emma_plugins.training.selection import ThresholdRule, decision_threshold


@dataclass(frozen=True)
class SeedData:
    """Clean and corrupted tensors of the three splits for one seed."""

    seed: int
    mode_names: list[str]
    clean: dict[str, TensorSplit]
    mixed: dict[str, TensorSplit]
    mixed_group: dict[str, Tensor]
    n_classes: int
    #: How each binary model's decision threshold is chosen on validation data.
    threshold_rule: ThresholdRule = "roc_corner"

    @property
    def device(self) -> torch.device:
        """Where the tensors live (the experiment trains its models there)."""
        return self.clean["train"].y.device

    def to(self, device: torch.device | str) -> SeedData:
        """The same splits with every tensor on ``device`` (itself when already there)."""
        device = torch.device(device)
        if device == self.device:
            return self
        return replace(
            self,
            clean={name: part.to(device) for name, part in self.clean.items()},
            mixed={name: part.to(device) for name, part in self.mixed.items()},
            mixed_group={name: group.to(device) for name, group in self.mixed_group.items()},
        )


def prepare_seed(
    data: MultiModalData,
    mode_names: Sequence[str],
    seed: int,
    *,
    corruption: CorruptionTrainingSpec | None = None,
    sigma: float | None = None,
    train_fraction: float = TRAIN_FRACTION,
    threshold_rule: ThresholdRule = "roc_corner",
) -> SeedData:
    """Split (stratified, standardized on train) and corrupt each split with the thesis scheme.

    ``corruption`` is the spec's ``training.corruption`` (default: its defaults), made into
    the scheme by `corruption_scheme`; ``sigma`` overrides its Gaussian noise std;
    ``threshold_rule`` is how the models' decision thresholds are chosen. The
    library's `prepare` does the work, so `emma fit` trains on the same data per seed.
    """
    corruption = corruption or CorruptionTrainingSpec()
    if sigma is not None:
        corruption = corruption.model_copy(update={"sigma": sigma})
    prepared = prepare(data, mode_names, seed=seed, corruption=corruption, train=train_fraction)
    return SeedData(
        seed,
        list(mode_names),
        prepared.clean,
        prepared.mixed,
        prepared.groups,
        data.n_classes,
        threshold_rule,
    )


@torch.no_grad()
def predict(model: nn.Module, split_: TensorSplit, batch_size: int = 4096) -> np.ndarray:
    """Class scores: positive-class probability ``(N,)`` or class probabilities ``(N, K)``,
    on the CPU whatever the device of the model and the split."""
    model.eval()
    chunks = []
    for index in torch.arange(len(split_), device=split_.y.device).split(batch_size):
        part = split_.take(index)
        chunks.append(positive_scores(model(part.modes, part.missing).output))
    return torch.cat(chunks).cpu().numpy()


def choose_threshold(
    model: nn.Module, val: TensorSplit, rule: ThresholdRule = "roc_corner"
) -> float:
    """The decision threshold by ``rule`` on validation data (binary); 0.5 is unused for
    multi-class."""
    scores = predict(model, val)
    return decision_threshold(val.y.cpu().numpy(), scores, rule) if scores.ndim == 1 else 0.5


def score(model: nn.Module, split_: TensorSplit, threshold: float) -> float:
    return task_metric(split_.y.cpu().numpy(), predict(model, split_), threshold)


def corrupted_copy(
    split_: TensorSplit, mode_names: Sequence[str], scheme: CorruptionScheme, seed: int
) -> TensorSplit:
    """A copy of the split corrupted by ``scheme`` (stratified by class); ``missing`` and
    ``xi`` mark what it did. The split itself is not changed."""
    batch = scheme.apply(split_.modes, list(mode_names), split_.y, seed)
    return TensorSplit(batch.modes, split_.y, batch.missing, batch.xi)


def noise_grid(split_: TensorSplit, sigmas: np.ndarray | Tensor, seed: int) -> TensorSplit:
    """The split stacked once per row of ``sigmas`` ``(S, M)``: block ``s`` (rows
    ``s*N .. (s+1)*N``) has Gaussian noise ``sigmas[s, m]`` on mode ``m``.
    The noise is drawn on the CPU from ``seed`` and moved to the split's device, so the grid
    is the same on every device.

    One noise draw per mode serves every block (common random numbers), so a sweep over
    noise levels varies only the level, and one forward pass scores the whole sweep.
    ``xi`` marks the modes with ``sigma > 0`` as corrupted.
    """
    levels = torch.as_tensor(np.asarray(sigmas, dtype=np.float32))
    if levels.dim() != 2 or levels.shape[1] != len(split_.modes):
        raise ValueError(
            f"sigmas has shape {tuple(levels.shape)}; expected (levels, modes) = "
            f"(S, {len(split_.modes)}), one noise level per mode and row."
        )
    if bool((levels < 0).any()):
        raise ValueError("sigmas must be >= 0 (noise standard deviations).")
    generator = torch.Generator().manual_seed(seed)
    n, s = len(split_), levels.shape[0]
    modes = []
    for m, x in enumerate(split_.modes):
        noise = torch.randn(x.shape, generator=generator).to(x)
        scale = levels[:, m].to(x).reshape(s, 1, *([1] * (x.dim() - 1)))
        modes.append((x.unsqueeze(0) + scale * noise.unsqueeze(0)).reshape(s * n, *x.shape[1:]))
    noisy = (levels > 0).to(split_.xi.device).repeat_interleave(n, dim=0)
    xi = torch.where(noisy, -1.0, split_.xi.repeat(s, 1))
    return TensorSplit(modes, split_.y.repeat(s), split_.missing.repeat(s, 1), xi)
