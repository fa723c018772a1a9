"""Corruption-kind sweeps: stacked blocks, common random numbers, levels through the registry."""

from __future__ import annotations

import pytest
import torch
from _experiment_samples import breast_cancer_spec
from emma_lab.experiments.sweeps import CorruptionSweep, stack_splits, sweep_grid

from emma_plugins.core.errors import UnknownKindError
from emma_plugins.corruptions import PixelNoise, WhiteNoise
from emma_plugins.spec import parse_spec
from emma_plugins.training.batches import TensorSplit

NAMES = ["image", "audio"]


def sample_split(n: int = 40) -> TensorSplit:
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(n, 1, 8, 8, generator=generator)
    audio = torch.randn(n, 16, 12, generator=generator) + 1.0
    return TensorSplit.clean([image, audio], torch.arange(n) % 4)


def test_pixel_noise_sweep_scales_one_draw() -> None:
    split_ = sample_split()
    sweep = CorruptionSweep("image", "pixel_noise", "sigma", (0.5, 1.0, 2.0))
    grid = sweep_grid(split_, NAMES, sweep, seed=3)
    n = len(split_)
    assert len(grid) == 4 * n and grid.modes[0].shape == (4 * n, 1, 8, 8)
    blocks = grid.modes[0].reshape(4, n, 1, 8, 8)
    assert torch.equal(blocks[0], split_.modes[0])  # block 0 is clean
    assert torch.equal(grid.modes[1], split_.modes[1].repeat(4, 1, 1))  # audio untouched
    noise = [blocks[k] - blocks[0] for k in range(1, 4)]
    assert torch.allclose(noise[1], 2 * noise[0], atol=1e-5)  # the same draw, scaled
    assert torch.allclose(noise[2], 4 * noise[0], atol=1e-5)
    assert torch.equal(grid.xi[:n], torch.ones(n, 2))
    assert bool((grid.xi[n:, 0] == -1).all()) and bool((grid.xi[n:, 1] == 1).all())
    assert not bool(grid.missing.any())
    assert torch.equal(grid.y, split_.y.repeat(4))


def test_white_noise_sweep_hits_its_snr() -> None:
    split_ = sample_split(400)
    sweep = CorruptionSweep("audio", "white_noise", "snr_db", (10.0, 0.0, -10.0))
    blocks = sweep_grid(split_, NAMES, sweep, seed=1).modes[1].reshape(4, 400, 16, 12)
    signal = blocks[0].pow(2).mean()
    for k, snr in enumerate(sweep.levels, start=1):
        noise = (blocks[k] - blocks[0]).pow(2).mean()
        assert 10 * torch.log10(signal / noise).item() == pytest.approx(snr, abs=0.3)


def test_any_registered_kind_sweeps() -> None:
    split_ = sample_split(8)
    sweep = CorruptionSweep("image", "occlusion", "size", (2.0, 3.0), {"fill": 0.0})
    blocks = sweep_grid(split_, NAMES, sweep, seed=0).modes[0].reshape(3, 8, 64)
    changed = (blocks[1:] != blocks[0]).sum(dim=2)
    assert torch.equal(changed, torch.tensor([[4] * 8, [9] * 8]))  # a 2x2, then a 3x3 patch


def test_sweep_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="at least one level"):
        CorruptionSweep("image", "pixel_noise", "sigma", ())
    with pytest.raises(ValueError, match="remove it"):
        CorruptionSweep("image", "pixel_noise", "sigma", (1.0,), {"sigma": 0.5})
    with pytest.raises(ValueError, match="modes are image, audio"):
        sweep_grid(sample_split(), NAMES, CorruptionSweep("video", "gaussian", "sigma", (1,)), 0)
    with pytest.raises(UnknownKindError, match="pixel_noise"):
        CorruptionSweep("image", "pixel_nosie", "sigma", (1.0,)).corruption(1.0)
    assert isinstance(CorruptionSweep("a", "white_noise", "snr_db", (5,)).corruption(5), WhiteNoise)


def test_from_spec_drops_the_swept_default() -> None:
    spec = parse_spec(
        {
            **breast_cancer_spec(),
            "evaluation": {
                "sweeps": [
                    {
                        "mode": "mean",
                        "corruption": {"kind": "occlusion", "fill": 1.5},
                        "param": "size",
                        "levels": [1, 2],
                    }
                ]
            },
        }
    )
    assert spec.evaluation is not None
    sweep = CorruptionSweep.from_spec(spec.evaluation.sweeps[0])
    assert (sweep.mode, sweep.kind, sweep.param, sweep.levels) == (
        "mean",
        "occlusion",
        "size",
        (1.0, 2.0),
    )
    assert dict(sweep.params) == {"fill": 1.5}  # the kind's default size is not kept
    assert sweep.label == "occlusion size"
    built = CorruptionSweep("a", "pixel_noise", "sigma", (1.0,)).corruption(2.0)
    assert isinstance(built, PixelNoise) and built.sigma == 2.0


def test_stack_splits_needs_parts() -> None:
    with pytest.raises(ValueError, match="at least one"):
        stack_splits([])
