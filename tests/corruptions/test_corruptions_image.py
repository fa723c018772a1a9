"""Image corruptions: pixel noise scaled by each image's spread, and an exact square patch."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from emma_plugins.corruptions import (
    CorruptionContext,
    CorruptionError,
    CorruptionScheme,
    Occlusion,
    PixelNoise,
    make_corruption,
)

CTX = CorruptionContext("image")


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 200, seed: int = 1) -> torch.Tensor:
    scale = torch.linspace(0.5, 4.0, n).view(n, 1, 1, 1)
    return scale * torch.randn(n, 1, 8, 8, generator=generator(seed)) + 3.0


def test_pixel_noise_is_sigma_times_each_images_spread() -> None:
    x = images()
    before = x.clone()
    out = PixelNoise(0.5)(x, generator=generator(), context=CTX)
    assert torch.equal(x, before) and out.shape == x.shape
    noise = (out - x).flatten(1)
    ratio = noise.std(dim=1) / x.flatten(1).std(dim=1, correction=0)
    assert ratio.mean().item() == pytest.approx(0.5, rel=0.02)
    assert ratio.min().item() > 0.3 and ratio.max().item() < 0.7  # per image, not global
    assert noise.mean().abs().item() < 0.05


def test_pixel_noise_zero_sigma_and_flat_images_unchanged() -> None:
    x = images(10)
    assert torch.equal(PixelNoise(0.0)(x, generator=generator(), context=CTX), x)
    flat = torch.full((3, 1, 8, 8), 7.0)
    assert torch.equal(PixelNoise(2.0)(flat, generator=generator(), context=CTX), flat)


def test_occlusion_blanks_one_square_of_the_size_per_image() -> None:
    x = images(300) + 100.0  # no pixel equals the fill by chance
    before = x.clone()
    out = Occlusion(size=3, fill=-1.0)(x, generator=generator(), context=CTX)
    assert torch.equal(x, before)
    blank = (out == -1.0).squeeze(1)  # (n, 8, 8)
    assert blank.sum(dim=(1, 2)).eq(9).all()
    rows, cols = blank.any(dim=2), blank.any(dim=1)
    assert rows.sum(dim=1).eq(3).all() and cols.sum(dim=1).eq(3).all()  # a 3 x 3 square
    assert torch.equal(out[~(out == -1.0)], x[~(out == -1.0)])  # the rest untouched
    corners = torch.stack([rows.int().argmax(1), cols.int().argmax(1)], 1)
    assert set(corners[:, 0].tolist()) == set(range(6))  # every admissible row reached


def test_occlusion_covers_all_channels_and_works_without_one() -> None:
    x = torch.randn(5, 3, 6, 6, generator=generator(2)) + 10.0
    out = Occlusion(size=2)(x, generator=generator(), context=CTX)
    zeros = out == 0.0
    assert torch.equal(zeros[:, 0], zeros[:, 1]) and torch.equal(zeros[:, 0], zeros[:, 2])
    plain = Occlusion(size=6)(x[:, 0], generator=generator(), context=CTX)  # (n, H, W)
    assert not plain.any()


def test_seeded() -> None:
    x = images(20)
    for kind in (PixelNoise(1.0), Occlusion(4)):
        a = kind(x, generator=generator(9), context=CTX)
        assert torch.equal(a, kind(x, generator=generator(9), context=CTX))
        assert not torch.equal(a, kind(x, generator=generator(10), context=CTX))


def test_bad_shapes_and_params_are_explained() -> None:
    with pytest.raises(CorruptionError, match=r"needs images shaped \(n, \[C,\] H, W\)"):
        Occlusion()(torch.zeros(4, 64), generator=generator(), context=CTX)
    with pytest.raises(CorruptionError, match=r"occlusion size on mode 'image' of 9"):
        Occlusion(9)(torch.zeros(4, 1, 8, 8), generator=generator(), context=CTX)
    with pytest.raises(CorruptionError, match="sigma must be >= 0"):
        PixelNoise(-0.1)
    with pytest.raises(ValidationError):
        make_corruption({"kind": "occlusion", "size": 0})


def test_in_a_scheme_on_image_tensors() -> None:
    x = images(40)
    scheme = CorruptionScheme([(0.5, {}), (0.5, {"image": {"kind": "occlusion", "size": 8}})])
    batch = scheme.apply([x], ["image"], seed=0)
    hit = batch.corrupted[:, 0]
    assert hit.sum().item() == 20
    assert not batch.modes[0][hit].any() and torch.equal(batch.modes[0][~hit], x[~hit])
