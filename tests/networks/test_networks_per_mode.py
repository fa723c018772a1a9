"""Per-mode MLP stacks run over the modes and stacked."""

from __future__ import annotations

import pytest
import torch

from emma_plugins.networks.per_mode import per_mode_encoders, per_mode_stacks, run_per_mode


def test_each_mode_gets_its_own_stack_and_outputs_stack_on_a_mode_axis() -> None:
    stacks = per_mode_stacks([(4,), (2, 3)], [5], 3)
    xs = [torch.randn(7, 4), torch.randn(7, 2, 3)]
    out = run_per_mode(stacks, xs)
    assert out.shape == (7, 2, 3)
    torch.testing.assert_close(out[:, 1], stacks[1](xs[1].flatten(1)))
    with pytest.raises(ValueError, match="expected 2 modes, got 1"):
        run_per_mode(stacks, xs[:1])


def test_encoders_end_at_the_shared_encoding_width_and_need_a_width() -> None:
    encoders = per_mode_encoders("net", [(4,), (2, 3)], [5, 2])
    out = run_per_mode(encoders, [torch.randn(7, 4), torch.randn(7, 2, 3)])
    assert out.shape == (7, 2, 2)
    assert isinstance(encoders[0][-1], torch.nn.ReLU)  # an encoder, no output layer
    with pytest.raises(ValueError, match="net: encoder needs at least one width"):
        per_mode_encoders("net", [(4,)], [])
