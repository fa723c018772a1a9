"""The stacked noise sweep of the protocol: blocks, common noise and the xi indicator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from emma_lab.experiments.protocol import noise_grid

from emma_plugins.training.batches import TensorSplit


def _split(n: int = 5) -> TensorSplit:
    generator = torch.Generator().manual_seed(0)
    modes = [torch.randn(n, 3, generator=generator), torch.randn(n, 2, 2, generator=generator)]
    return TensorSplit.clean(modes, torch.arange(n) % 2)


def test_blocks_carry_their_noise_levels() -> None:
    split = _split()
    sigmas = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 3.0]])
    grid = noise_grid(split, sigmas, seed=1)
    assert len(grid) == 15 and grid.modes[1].shape == (15, 2, 2)
    blocks = [m.reshape(3, 5, *m.shape[1:]) for m in grid.modes]
    assert torch.equal(blocks[0][0], split.modes[0]) and torch.equal(blocks[1][1], split.modes[1])
    # one noise draw per mode, scaled per block
    noise = blocks[0][1] - split.modes[0]
    assert torch.allclose(blocks[0][2] - split.modes[0], 2 * noise, atol=1e-5)
    assert noise.std() > 0.3
    assert grid.xi.reshape(3, 5, 2)[:, 0].tolist() == [[1, 1], [-1, 1], [-1, -1]]
    assert torch.equal(grid.y, split.y.repeat(3))


def test_same_seed_same_noise_and_bad_shapes_fail() -> None:
    split = _split()
    sigmas = np.array([[0.5, 0.5]])
    assert torch.equal(noise_grid(split, sigmas, 7).modes[0], noise_grid(split, sigmas, 7).modes[0])
    with pytest.raises(ValueError, match=r"\(S, 2\)"):
        noise_grid(split, np.zeros((2, 3)), 0)
    with pytest.raises(ValueError, match=">= 0"):
        noise_grid(split, -np.ones((1, 2)), 0)
