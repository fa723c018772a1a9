"""The stacked noise sweep of the protocol: blocks, common noise and the xi indicator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _experiment_samples import small_data, tiny_experiment, tiny_spec
from emma_lab.experiments.comparison import seed_loss, train_base_model
from emma_lab.experiments.protocol import noise_grid, predict

from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.selection import f1_threshold


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


def test_the_evaluation_section_chooses_how_thresholds_are_set() -> None:
    assert tiny_experiment().prepare(small_data(), 0).threshold_rule == "roc_corner"
    experiment = tiny_experiment(tiny_spec(evaluation={"threshold": "f1_optimum"}))
    data = experiment.prepare(small_data(), 0)
    assert data.threshold_rule == "f1_optimum"
    trained = train_base_model(experiment.base, data, seed_loss(data, experiment.spec))
    scores = predict(trained.model, data.clean["val"])
    y = data.clean["val"].y.numpy()
    assert trained.threshold == f1_threshold(y, scores)
