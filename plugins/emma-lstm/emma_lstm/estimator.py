"""``lstm``: a deep structured energy whose features come from an LSTM run over time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field
from torch import Tensor, nn

from emma_plugins.estimators import StructuredEnergy, StructuredEnergyParams


def _sequence_shape(shape: Sequence[int]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(
            f"the lstm estimator needs sequence samples shaped (T, F) (time steps, features "
            f"per step), got shape {list(shape)}; give the mode a shape such as [32, 16]"
        )
    steps, features = (int(size) for size in shape)
    return steps, features


class LSTMEnergyParams(StructuredEnergyParams):
    """Parameters of the ``lstm`` estimator."""

    hidden: int = Field(32, ge=1, description="Hidden units of each LSTM layer.")
    layers: int = Field(1, ge=1, description="Stacked LSTM layers.")

    def check_context(self, shape: Sequence[int], **_: object) -> None:
        _sequence_shape(shape)


class RecurrentFeatures(nn.Module):
    """``phi``: an LSTM over the time steps, its outputs averaged over time.

    The LSTM's gates (sigmoid, tanh) are smooth, and the time average (rather than the last
    state alone) lets every step shape the features with a gradient of similar size.
    """

    def __init__(self, shape: Sequence[int], hidden: int, layers: int) -> None:
        super().__init__()
        _, step_features = _sequence_shape(shape)
        self.lstm = nn.LSTM(step_features, hidden, num_layers=layers, batch_first=True)
        self.out_features = hidden

    def forward(self, x: Tensor) -> Tensor:
        outputs, _ = self.lstm(x)
        return outputs.mean(dim=1)


class LSTMEnergy(StructuredEnergy):
    """``Psi(x) = 1/2 ||x - b||^2 / s^2 - sum_k softplus(v_k . phi(x) + c_k)`` for sequences,
    with ``phi`` a `RecurrentFeatures` network, trained by denoising score matching.

    cuDNN's LSTM has no double backward and no backward in eval mode, so cuDNN is turned
    off whenever a graph through ``phi`` is recorded (training, ``grad_norm``); inference
    under ``torch.no_grad`` still uses it.
    """

    cudnn_double_backward: ClassVar[bool] = False

    def __init__(
        self,
        shape: Sequence[int],
        hidden: int = 32,
        layers: int = 1,
        experts: int = 32,
        sigma: float = 0.1,
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 1e-3,
        seed: int = 0,
    ) -> None:
        sequence = _sequence_shape(shape)
        super().__init__(
            sequence,
            lambda: RecurrentFeatures(sequence, hidden, layers),
            features=hidden,
            experts=experts,
            sigma=sigma,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
        )
        self.hidden, self.layers = hidden, layers
