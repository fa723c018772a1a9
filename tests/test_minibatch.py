"""The mini-batch epoch shared by estimator fitting and the network training loop."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from emma_plugins._minibatch import NonFiniteLoss, shuffled_batches, train_epoch


def test_shuffled_batches_cover_every_index_once_in_the_seeded_order() -> None:
    batches = shuffled_batches(10, 4, torch.Generator().manual_seed(3))
    assert [len(b) for b in batches] == [4, 4, 2]
    expected = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.cat(batches), expected)


def test_train_epoch_steps_once_per_batch_and_weighs_the_mean_by_batch_size() -> None:
    weight = torch.nn.Parameter(torch.zeros(()))
    optimizer = torch.optim.SGD([weight], lr=0.0)  # no movement: the losses are known
    values = torch.arange(10.0)
    seen: list[Tensor] = []
    steps: list[int] = []

    def batch_loss(index: Tensor) -> Tensor:
        seen.append(index)
        return values[index].mean() + weight

    mean = train_epoch(
        optimizer,
        10,
        4,
        torch.Generator().manual_seed(0),
        batch_loss,
        after_step=lambda: steps.append(1),
    )
    assert len(steps) == len(seen) == 3
    assert abs(mean - float(values.mean())) < 1e-6
    assert sorted(torch.cat(seen).tolist()) == list(range(10))


def test_train_epoch_matches_a_plain_loop_for_the_same_seed() -> None:
    x = torch.randn(23, 3, generator=torch.Generator().manual_seed(1))

    def run(shared: bool) -> tuple[list[float], Tensor]:
        torch.manual_seed(0)
        layer = torch.nn.Linear(3, 1)
        optimizer = torch.optim.Adam(layer.parameters(), lr=0.1)
        generator = torch.Generator().manual_seed(5)
        losses = []
        for _ in range(3):
            if shared:
                losses.append(
                    train_epoch(
                        optimizer, len(x), 8, generator, lambda i: layer(x[i]).pow(2).mean()
                    )
                )
                continue
            total = 0.0
            for index in torch.randperm(len(x), generator=generator).split(8):
                loss = layer(x[index]).pow(2).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(index)
            losses.append(total / len(x))
        return losses, layer.weight.detach().clone()

    shared_losses, shared_weight = run(shared=True)
    plain_losses, plain_weight = run(shared=False)
    assert shared_losses == plain_losses
    assert torch.equal(shared_weight, plain_weight)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    batch_size=st.integers(1, 8),
    position=st.floats(0.0, 1.0, exclude_max=True),
    bad=st.sampled_from([float("nan"), float("inf"), -float("inf")]),
)
def test_a_non_finite_loss_stops_the_epoch_before_its_step(
    n: int, batch_size: int, position: float, bad: float
) -> None:
    n_batches = -(-n // batch_size)
    bad_batch = int(position * n_batches) + 1  # 1-based, the batch whose loss is bad
    weight = torch.nn.Parameter(torch.zeros(()))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    steps: list[float] = []
    calls = 0

    def batch_loss(index: Tensor) -> Tensor:
        nonlocal calls
        calls += 1
        value = bad if calls == bad_batch else 1.0
        return weight * value + value

    with pytest.raises(NonFiniteLoss) as caught:
        train_epoch(
            optimizer,
            n,
            batch_size,
            torch.Generator().manual_seed(0),
            batch_loss,
            after_step=lambda: steps.append(float(weight.detach())),
        )
    assert (caught.value.batch, caught.value.n_batches) == (bad_batch, n_batches)
    assert not math.isfinite(caught.value.value)
    assert len(steps) == bad_batch - 1  # the bad batch took no step
    assert float(weight.detach()) == pytest.approx(-0.1 * (bad_batch - 1))  # nor changed the weight
