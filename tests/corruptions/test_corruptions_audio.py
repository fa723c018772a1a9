"""Audio corruptions on (n, T, F) features: noise at a per-sample SNR, and a time mask."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from emma_plugins.corruptions import (
    CorruptionContext,
    CorruptionError,
    CorruptionScheme,
    TimeMask,
    WhiteNoise,
    make_corruption,
)

CTX = CorruptionContext("audio")


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def spectrograms(n: int = 100, seed: int = 1) -> torch.Tensor:
    loudness = torch.logspace(-1, 1, n).view(n, 1, 1)  # powers spanning 40 dB
    return loudness * (torch.randn(n, 32, 32, generator=generator(seed)) + 1.0)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 30.0])
def test_white_noise_has_the_snr_per_sample(snr_db: float) -> None:
    x = spectrograms()
    before = x.clone()
    out = WhiteNoise(snr_db)(x, generator=generator(), context=CTX)
    assert torch.equal(x, before) and out.shape == x.shape
    signal = x.pow(2).mean(dim=(1, 2))
    noise = (out - x).pow(2).mean(dim=(1, 2))
    measured = 10 * torch.log10(signal / noise)
    assert measured.mean().item() == pytest.approx(snr_db, abs=0.1)
    assert (measured - snr_db).abs().max().item() < 0.8  # each sample, quiet or loud
    assert (out - x).mean().abs().item() < 0.05 * noise.sqrt().mean().item()


def test_time_mask_zeroes_one_span_of_the_width() -> None:
    x = spectrograms(200) + 50.0  # nothing is zero by chance
    before = x.clone()
    out = TimeMask(width=5)(x, generator=generator(), context=CTX)
    assert torch.equal(x, before)
    masked_steps = (out == 0.0).all(dim=2)  # (n, T)
    assert masked_steps.sum(dim=1).eq(5).all()
    assert torch.equal((out == 0.0), masked_steps[:, :, None].expand_as(out))
    starts = masked_steps.int().argmax(dim=1)
    assert starts.max().item() == 27 and starts.min().item() == 0
    assert torch.equal(out[~(out == 0.0)], x[~(out == 0.0)])


def test_time_mask_mean_fill_uses_each_features_mean_over_time() -> None:
    x = spectrograms(10)
    out = TimeMask(width=4, fill="mean")(x, generator=generator(), context=CTX)
    changed = (out != x).any(dim=2)  # (n, T)
    assert changed.sum(dim=1).eq(4).all()
    means = x.mean(dim=1, keepdim=True).expand_as(x)
    assert torch.allclose(out[changed], means[changed])


def test_seeded() -> None:
    x = spectrograms(20)
    for kind in (WhiteNoise(0.0), TimeMask(8)):
        a = kind(x, generator=generator(4), context=CTX)
        assert torch.equal(a, kind(x, generator=generator(4), context=CTX))
        assert not torch.equal(a, kind(x, generator=generator(5), context=CTX))


def test_bad_shapes_and_params_are_explained() -> None:
    with pytest.raises(CorruptionError, match=r"needs spectrograms shaped \(n, T, F\)"):
        TimeMask()(torch.zeros(4, 1024), generator=generator(), context=CTX)
    with pytest.raises(CorruptionError, match=r"time_mask width on mode 'audio' of 40"):
        TimeMask(40)(torch.zeros(4, 32, 32), generator=generator(), context=CTX)
    with pytest.raises(CorruptionError, match="fill must be 'zero' or 'mean'"):
        TimeMask(fill="median")  # type: ignore[arg-type]
    with pytest.raises(CorruptionError, match="finite"):
        WhiteNoise(float("inf"))
    with pytest.raises(ValidationError):
        make_corruption({"kind": "white_noise", "snr": 3})


def test_in_a_scheme_with_images() -> None:
    image, audio = torch.randn(40, 1, 8, 8), spectrograms(40)
    scheme = CorruptionScheme(
        [
            (0.5, {}),
            (0.25, {"audio": {"kind": "white_noise", "snr_db": 0.0}}),
            (0.25, {"audio": "missing"}),
        ]
    )
    batch = scheme.apply([image, audio], ["image", "audio"], seed=1)
    assert batch.corrupted[:, 1].sum().item() == 20 and batch.missing[:, 1].sum().item() == 10
    assert torch.equal(batch.modes[0], image)
    assert not batch.modes[1][batch.missing[:, 1]].any()
