"""Optional methods a network may define, which the trainer and the benchmark use.

A plain network only maps modes to logits. A network that needs its own objective, or
that exposes per-mode quality or a per-sample uncertainty, adds some of these methods;
they all refer to the network's *last forward pass*:

* ``begin_fit(n_samples)``: called by `emma_plugins.training.loop.fit` before training,
  with the size of the training split, so that per-sample state (QMF's loss history)
  is sized and reset;
* ``training_loss(output, y, *, epoch, base_loss, index) -> Tensor``: the training
  objective of the last forward. ``output`` is the network's logits, ``epoch`` counts
  from 1, ``base_loss(logits, y)`` is the trainer's task loss and ``index`` holds the
  positions of the batch's samples in the training split. Without it the trainer uses
  ``base_loss(output, y)``. Validation always uses ``base_loss`` on the logits, so early
  stopping compares every network on the same footing;
* ``quality_scores() -> Tensor [N, M]``: per-mode quality, **higher means more
  trustworthy** (QMF: negative energy; TMC: one minus the mode's uncertainty; dynamics:
  the predicted true-class probability; linear attention: the attention weight);
* ``uncertainty() -> Tensor [N]``: per-sample uncertainty of the fused prediction,
  higher means less sure (TMC's fused Dirichlet uncertainty).

Quality and uncertainty are detached and cover the last forward only: score a whole
split in one forward pass (or collect them batch by batch).

The protocols live in `emma_plugins.core.contracts` with the other families' contracts
and are re-exported here; a network that defines only part of one of them (``encode``
without ``fuse``) is refused when it is built.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from emma_plugins.core.contracts import (
    EncodesModes,
    HasBeginFit,
    HasInputLayers,
    HasQualityScores,
    HasTrainingLoss,
    HasUncertainty,
)

__all__ = [
    "EncodesModes",
    "HasBeginFit",
    "HasInputLayers",
    "HasQualityScores",
    "HasTrainingLoss",
    "HasUncertainty",
    "LastForward",
    "LossFn",
    "begin_fit",
    "training_objective",
]

LossFn = Callable[[Tensor, Tensor], Tensor]


def begin_fit(network: nn.Module, n_samples: int) -> None:
    """Let the network size and reset its per-sample training state, when it has any."""
    hook = getattr(network, "begin_fit", None)
    if callable(hook):
        hook(n_samples)


def training_objective(
    network: nn.Module,
    output: Tensor,
    y: Tensor,
    base_loss: LossFn,
    *,
    epoch: int,
    index: Tensor,
) -> Tensor:
    """The network's own training loss when it defines one, else ``base_loss(output, y)``."""
    if isinstance(network, HasTrainingLoss):
        return network.training_loss(output, y, epoch=epoch, base_loss=base_loss, index=index)
    return base_loss(output, y)


class LastForward:
    """Holds what a network computed in its last forward, with a clear error before any."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._values: dict[str, Tensor] = {}

    def __deepcopy__(self, memo: dict[int, object]) -> LastForward:
        # A copied network has made no forward pass yet (and graph tensors cannot be copied).
        return LastForward(self._owner)

    def store(self, **values: Tensor) -> None:
        self._values = dict(values)

    def get(self, name: str) -> Tensor:
        if name not in self._values:
            raise RuntimeError(
                f"{self._owner}: no forward pass yet; call the network on a batch first."
            )
        return self._values[name]
