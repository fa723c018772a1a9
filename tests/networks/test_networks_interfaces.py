"""The optional network methods and how the trainer uses them."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from _baseline_samples import easy_split
from torch import Tensor, nn

from emma_plugins.networks.interfaces import (
    HasTrainingLoss,
    LastForward,
    begin_fit,
    training_objective,
)
from emma_plugins.training.loop import FitConfig, fit


class Recorder(nn.Module):
    """A network whose own loss records what the trainer hands it."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)
        self.calls: list[tuple[int, list[int]]] = []
        self.fits: list[int] = []

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        out: Tensor = self.linear(modes[0])
        return out

    def begin_fit(self, n_samples: int) -> None:
        self.fits.append(n_samples)

    def training_loss(self, output, y, *, epoch, base_loss, index):  # type: ignore[no-untyped-def]
        self.calls.append((epoch, index.tolist()))
        return base_loss(output, y) + 0.0 * output.sum()


class Wrapper(nn.Module):
    """Calls its network like EmmaModel does (output and report)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, modes, missing=None):  # type: ignore[no-untyped-def]
        from emma_plugins.assembly.model import EmmaOutput

        return EmmaOutput(self.network(modes), None)


def bce(output: Tensor, y: Tensor) -> Tensor:
    return nn.functional.binary_cross_entropy_with_logits(output.squeeze(1), y.float())


def test_fit_hands_epoch_and_sample_positions_to_the_network_loss() -> None:
    train = easy_split(n=20)
    net = Recorder()
    assert isinstance(net, HasTrainingLoss)
    fit(
        Wrapper(net), train, easy_split(n=8), bce, FitConfig(epochs=2, batch_size=8, progress=False)
    )
    assert net.fits == [20]
    assert [epoch for epoch, _ in net.calls] == [1, 1, 1, 2, 2, 2]
    for epoch in (1, 2):  # each epoch visits every sample once, by its position in train
        seen = sorted(i for e, index in net.calls if e == epoch for i in index)
        assert seen == list(range(20))


def test_without_a_network_loss_the_base_loss_is_used() -> None:
    net = nn.Linear(2, 1)
    begin_fit(net, 5)  # no hook: nothing happens
    output, y = torch.tensor([[0.3], [-1.0]]), torch.tensor([1, 0])
    value = training_objective(net, output, y, bce, epoch=1, index=torch.arange(2))
    torch.testing.assert_close(value, bce(output, y))


def test_last_forward_is_not_copied_with_the_network() -> None:
    import copy

    last = LastForward("net")
    leaf = torch.ones(2, requires_grad=True)
    last.store(value=leaf * 2)  # a graph tensor, which deepcopy would refuse
    assert torch.equal(last.get("value"), torch.tensor([2.0, 2.0]))
    copied = copy.deepcopy(last)
    try:
        copied.get("value")
    except RuntimeError as error:
        assert "no forward pass yet" in str(error)
    else:
        raise AssertionError("a copy should hold no forward pass")
