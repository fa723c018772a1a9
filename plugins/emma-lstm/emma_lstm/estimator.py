"""``lstm``: a deep structured energy whose features come from an LSTM run over time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field
from torch import Tensor, nn

from emma_plugins.estimators import StructuredEnergy, StructuredEnergyParams

if TYPE_CHECKING:
    from typing import Unpack

    from emma_plugins.estimators import StructuredTraining


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

    #: Read by the conformance kit (emma_plugins.testing.samples): short sequences of
    #: (time steps, features) and parameters that train in a blink.
    conformance_shape: ClassVar[tuple[int, ...]] = (5, 2)
    conformance_params: ClassVar[dict[str, object]] = {"epochs": 1, "hidden": 8, "experts": 8}

    def __init__(
        self,
        shape: Sequence[int],
        hidden: int = 32,
        layers: int = 1,
        experts: int = 32,
        **training: Unpack[StructuredTraining],
    ) -> None:
        sequence = _sequence_shape(shape)
        super().__init__(
            sequence,
            lambda: RecurrentFeatures(sequence, hidden, layers),
            features=hidden,
            experts=experts,
            **training,
        )
        self.hidden, self.layers = hidden, layers
