"""Failures nobody trains for: stuck, drift, gain, clip, quantize, impulse, blur, contrast and
audio_clip, each by its formula, in training units, seeded, and worse as its severity grows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from emma_plugins import get_registry
from emma_plugins.corruptions import (
    AudioClip,
    Blur,
    Clip,
    Contrast,
    Corruption,
    CorruptionContext,
    CorruptionError,
    Drift,
    Gain,
    Impulse,
    MissingMode,
    OutOfDistribution,
    Quantize,
    Stuck,
    corrupt_all,
    make_corruption,
)

STANDARD = CorruptionContext("m")
MEAN = torch.tensor([10.0, -5.0, 0.0])
STD = torch.tensor([2.0, 0.5, 1.0])
STATS = CorruptionContext("m", mean=MEAN, std=STD)

#: kind -> (an instance with a non-trivial setting, the sample shape it acts on).
NEW_KINDS: dict[str, tuple[Corruption, tuple[int, ...]]] = {
    "stuck": (Stuck(1.5), (3,)),
    "drift": (Drift(2.0), (3,)),
    "gain": (Gain(4.0), (3,)),
    "clip": (Clip(80.0), (3,)),
    "quantize": (Quantize(3), (3,)),
    "impulse": (Impulse(0.5), (3,)),
    "blur": (Blur(1.0), (2, 6, 6)),
    "contrast": (Contrast(0.3), (2, 6, 6)),
    "audio_clip": (AudioClip(70.0), (12, 4)),
}


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def apply(corruption: Corruption, x: torch.Tensor, context: CorruptionContext = STANDARD):
    return corruption(x, generator=generator(), context=context)


def rows(n: int = 400, d: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, d, generator=generator(seed))


def raw_rows(n: int = 400, seed: int = 1) -> torch.Tensor:
    """Rows in the training units of `STATS` (mean 10, -5, 0; std 2, 0.5, 1)."""
    return MEAN + STD * rows(n, 3, seed)


# -- every new kind: a new tensor, same shape and dtype, seeded --------------------------------
@pytest.mark.parametrize("kind", list(NEW_KINDS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_new_tensor_same_shape_and_dtype_input_untouched(kind: str, dtype: torch.dtype) -> None:
    corruption, shape = NEW_KINDS[kind]
    x = torch.randn(16, *shape, generator=generator(3), dtype=dtype)
    before = x.clone()
    out = apply(corruption, x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(x, before)
    assert out.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()
    out.add_(1.0)
    assert torch.equal(x, before)
    assert not torch.equal(apply(corruption, x), x)  # it does corrupt


@pytest.mark.parametrize("kind", list(NEW_KINDS))
def test_same_seed_same_rows_and_global_generator_untouched(kind: str) -> None:
    corruption, shape = NEW_KINDS[kind]
    x = torch.randn(16, *shape, generator=generator(3))
    state = torch.random.get_rng_state()
    a = corruption(x, generator=generator(7), context=STANDARD)
    b = corruption(x, generator=generator(7), context=STANDARD)
    assert torch.equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_stats_do_not_alias_the_context() -> None:
    x = raw_rows(1)
    out = apply(Stuck(0.0), x, STATS)
    out.add_(1.0)
    assert STATS.mean is not None and STATS.std is not None
    assert torch.equal(STATS.mean, MEAN) and torch.equal(STATS.std, STD)


# -- formulas ----------------------------------------------------------------------------------
def test_stuck_freezes_every_feature() -> None:
    x = rows(5)
    assert torch.equal(apply(Stuck(), x), torch.zeros_like(x))  # at=0: the training mean
    assert torch.equal(apply(Stuck(-2.0), x), torch.full_like(x, -2.0))
    out = apply(Stuck(1.5), raw_rows(5), STATS)
    assert torch.allclose(out, (MEAN + 1.5 * STD).expand(5, 3))


def test_drift_shifts_by_training_stds() -> None:
    x = rows(5)
    assert torch.allclose(apply(Drift(2.0), x), x + 2.0)
    raw = raw_rows(5)
    assert torch.allclose(apply(Drift(-1.0), raw, STATS), raw - STD)
    assert torch.equal(apply(Drift(0.0), raw, STATS), raw)


def test_gain_scales_deviations_from_the_training_mean() -> None:
    x = rows(5)
    assert torch.allclose(apply(Gain(4.0), x), 4.0 * x)
    raw = raw_rows(5)
    assert torch.allclose(apply(Gain(3.0), raw, STATS), MEAN + 3.0 * (raw - MEAN))
    assert torch.allclose(apply(Gain(1.0), raw, STATS), raw)
    assert torch.allclose(apply(Gain(0.0), raw, STATS), MEAN.expand(5, 3))


def test_clip_saturates_at_the_training_percentile() -> None:
    z = torch.special.ndtri(torch.tensor(0.9)).item()
    assert Clip(90.0).z == pytest.approx(z, rel=1e-6)
    assert z == pytest.approx(1.2816, abs=1e-4)
    x = torch.tensor([[-3.0, -1.0, 0.5, 1.2, 1.3, 4.0]])
    expected = torch.tensor([[-z, -1.0, 0.5, 1.2, z, z]])
    assert torch.allclose(apply(Clip(90.0), x), expected)
    raw = raw_rows(2_000)
    out = apply(Clip(90.0), raw, STATS)
    assert torch.allclose(out, torch.clamp(raw, MEAN - z * STD, MEAN + z * STD))
    saturated = (out != raw).float().mean(dim=0)  # ~10 % above, ~10 % below
    assert torch.allclose(saturated, torch.full((3,), 0.2), atol=0.03)


def test_quantize_rounds_to_equally_spaced_levels() -> None:
    x = torch.tensor([[-4.0, -1.6, -1.4, 0.2, 1.6, 3.5]])
    out = apply(Quantize(3), x)  # levels -3, 0, 3
    assert torch.equal(out, torch.tensor([[-3.0, -3.0, 0.0, 0.0, 3.0, 3.0]]))
    raw = raw_rows(500)
    out = apply(Quantize(4), raw, STATS)  # levels mean + (-3, -1, 1, 3) * std
    for j in range(3):
        levels = MEAN[j] + torch.tensor([-3.0, -1.0, 1.0, 3.0]) * STD[j]
        assert torch.isclose(out[:, j, None], levels).any(dim=1).all()
        nearest = levels[(raw[:, j, None] - levels).abs().argmin(dim=1)]
        assert torch.allclose(out[:, j], nearest)
    flat = CorruptionContext("m", mean=torch.tensor([1.0, 2.0]), std=torch.tensor([0.0, 1.0]))
    out = apply(Quantize(2), torch.tensor([[5.0, 2.5]]), flat)
    assert torch.equal(out, torch.tensor([[1.0, 5.0]]))  # zero std reads the mean


def test_impulse_spikes_a_fraction_of_each_row() -> None:
    x = torch.randn(200, 1, 4, 5, generator=generator(2))  # 20 features per row
    out = apply(Impulse(0.25, amplitude=10.0), x)
    changed = (out != x).flatten(1)
    assert changed.sum(dim=1).eq(5).all()
    spikes = out.flatten(1)[changed]
    assert spikes.abs().eq(10.0).all()
    assert 0.4 < (spikes > 0).float().mean().item() < 0.6  # random signs
    assert len({tuple(row.nonzero().flatten().tolist()) for row in changed}) > 150  # random
    assert changed.float().mean(dim=0).min() > 0.1  # every feature gets hit
    one = apply(Impulse(0.001), x)
    assert (one != x).flatten(1).sum(dim=1).eq(1).all()  # at least one
    raw = raw_rows(300)
    out = apply(Impulse(1.0, amplitude=3.0), raw, STATS)
    assert torch.allclose((out - MEAN).abs(), (3.0 * STD).expand(300, 3))


def blur_reference(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur by convolution with replicate padding."""
    radius = math.ceil(3 * sigma)
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    images = x.reshape(-1, 1, *x.shape[-2:])
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1))
    out = F.conv2d(out, kernel.view(1, 1, -1, 1))
    return out.reshape(x.shape)


@pytest.mark.parametrize("shape", [(3, 7, 9), (2, 5, 5), (6, 8)])
@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5])
def test_blur_is_a_separable_gaussian_with_edge_padding(
    shape: tuple[int, ...], sigma: float
) -> None:
    x = torch.randn(4, *shape, generator=generator(4), dtype=torch.float64)
    out = apply(Blur(sigma), x)
    assert torch.allclose(out, blur_reference(x, sigma), atol=1e-10)


def test_blur_keeps_flat_images_and_channels_apart() -> None:
    flat = torch.full((2, 1, 5, 5), 3.0)
    assert torch.allclose(apply(Blur(2.0), flat), flat)
    x = torch.zeros(1, 2, 7, 7)
    x[0, 0, 3, 3] = 1.0  # a point in channel 0
    out = apply(Blur(1.0), x)
    assert torch.equal(out[0, 1], torch.zeros(7, 7))  # channel 1 untouched
    assert out[0, 0].sum().item() == pytest.approx(1.0, abs=1e-6)  # mass kept, away from edges
    assert out[0, 0, 3, 3] < 0.2 and torch.allclose(out[0, 0], out[0, 0].T)
    assert torch.equal(apply(Blur(0.0), x), x)


def test_blur_refuses_flat_rows() -> None:
    with pytest.raises(CorruptionError, match=r"blur on mode 'm' needs images.*image shape"):
        apply(Blur(), torch.randn(4, 16))


def test_contrast_pulls_each_image_toward_its_mean() -> None:
    x = torch.randn(5, 3, 4, 4, generator=generator(5)) * 2.0 + torch.arange(5.0).view(5, 1, 1, 1)
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    out = apply(Contrast(0.3), x)
    assert torch.allclose(out, m + 0.3 * (x - m), atol=1e-6)
    assert torch.allclose(out.mean(dim=(1, 2, 3), keepdim=True), m, atol=1e-5)
    assert torch.allclose(apply(Contrast(0.0), x), m.expand_as(x))
    assert torch.allclose(apply(Contrast(1.0), x), x)


def test_audio_clip_saturates_each_sample_at_its_own_percentile() -> None:
    x = torch.stack([torch.arange(11.0), 10.0 * torch.arange(11.0)]).view(2, 11, 1)
    out = apply(AudioClip(80.0), x)
    assert torch.equal(out[0, :, 0], torch.arange(11.0).clamp_max(8.0))
    assert torch.equal(out[1, :, 0], (10.0 * torch.arange(11.0)).clamp_max(80.0))  # own level
    spec = torch.randn(6, 12, 4, generator=generator(6))
    level = torch.quantile(spec.flatten(1), 0.7, dim=1).view(6, 1, 1)
    assert torch.equal(apply(AudioClip(70.0), spec), torch.minimum(spec, level))
    assert torch.equal(apply(AudioClip(100.0), spec), spec)
    assert torch.equal(
        apply(AudioClip(50.0), rows(5)), rows(5).clamp_max(rows(5).median(1)[0][:, None])
    )


# -- training statistics ------------------------------------------------------------------------
def test_statistics_may_come_flat_or_in_the_sample_shape() -> None:
    x = torch.randn(3, 1, 2, 2, generator=generator(8))
    mean, std = torch.arange(4.0), torch.full((4,), 2.0)
    flat = CorruptionContext("m", mean=mean, std=std)
    shaped = CorruptionContext("m", mean=mean.view(1, 2, 2), std=std.view(1, 2, 2))
    expected = mean.view(1, 1, 2, 2) + 2.0 * 2.0
    assert torch.allclose(apply(Stuck(2.0), x, flat), expected.expand_as(x))
    assert torch.allclose(apply(Stuck(2.0), x, shaped), expected.expand_as(x))
    per_freq = CorruptionContext("m", mean=torch.tensor([1.0, -1.0]), std=torch.ones(2))
    assert torch.allclose(apply(Stuck(), torch.zeros(2, 3, 2), per_freq)[:, :, 0], torch.ones(2, 3))
    bad = CorruptionContext("sensor", mean=torch.zeros(5))
    with pytest.raises(
        CorruptionError, match=r"gain on mode 'sensor': the training mean has shape \(5,\)"
    ):
        apply(Gain(2.0), x, bad)


def test_scheme_passes_training_statistics() -> None:
    raw = raw_rows(20)
    batch = corrupt_all(
        [raw], ["a"], {"a": {"kind": "drift", "offset": 1.0}}, stats={"a": (MEAN, STD)}
    )
    assert torch.allclose(batch.modes[0], raw + STD)


# -- severity ----------------------------------------------------------------------------------
def severity_of(kind: str) -> str | None:
    factory = get_registry("corruption").get(kind).factory
    assert isinstance(factory, type) and issubclass(factory, Corruption)
    return factory.severity


def mean_abs_change(corruption: Corruption, x: torch.Tensor) -> float:
    return (apply(corruption, x) - x).abs().mean().item()


def share_changed(corruption: Corruption, x: torch.Tensor) -> float:
    return (apply(corruption, x) != x).float().mean().item()


IMAGES = torch.randn(50, 1, 8, 8, generator=generator(9))
SPECTROGRAMS = torch.randn(50, 12, 4, generator=generator(10))
#: kind -> (severity values from mild to severe, how bad a setting is, data).
MONOTONE: dict[str, tuple[list[Any], Callable[[Corruption, torch.Tensor], float], torch.Tensor]] = {
    "stuck": ([0.0, 1.0, 3.0], mean_abs_change, rows()),
    "drift": ([0.5, 1.0, 2.0, 5.0], mean_abs_change, rows()),
    "gain": ([1.5, 2.0, 4.0, 8.0], mean_abs_change, rows()),
    "clip": ([99.0, 95.0, 90.0, 70.0, 55.0], share_changed, rows()),
    "quantize": ([64, 16, 8, 4, 3, 2], mean_abs_change, rows()),
    "impulse": ([0.05, 0.25, 0.5, 1.0], share_changed, IMAGES),
    "blur": ([0.3, 0.7, 1.0, 2.0], mean_abs_change, IMAGES),
    "contrast": ([0.9, 0.6, 0.3, 0.0], mean_abs_change, IMAGES),
    "audio_clip": ([99.0, 90.0, 70.0, 30.0], share_changed, SPECTROGRAMS),
}


@pytest.mark.parametrize("kind", list(MONOTONE))
def test_severity_makes_the_failure_worse(kind: str) -> None:
    values, badness, x = MONOTONE[kind]
    severity = severity_of(kind)
    assert severity is not None
    scores = [badness(make_corruption({"kind": kind, severity: v}), x) for v in values]
    assert all(a < b for a, b in pairwise(scores)), scores


def test_severity_of_the_kinds() -> None:
    expected = {
        "gaussian": "sigma",
        "pixel_noise": "sigma",
        "occlusion": "size",
        "white_noise": "snr_db",
        "time_mask": "width",
        "stuck": "at",
        "drift": "offset",
        "gain": "k",
        "clip": "percentile",
        "quantize": "levels",
        "impulse": "fraction",
        "blur": "sigma",
        "contrast": "factor",
        "audio_clip": "percentile",
    }
    assert {k: severity_of(k) for k in expected} == expected
    assert Corruption.severity is None
    assert OutOfDistribution.severity is None and MissingMode.severity is None


def test_every_builtin_kind_but_ood_and_missing_declares_a_severity_field() -> None:
    builtin = [r for r in get_registry("corruption") if r.provider == "emma-plugins"]
    assert {r.kind for r in builtin} >= set(NEW_KINDS) | {"gaussian", "ood", "missing"}
    for registration in builtin:
        severity = getattr(registration.factory, "severity", None)
        if registration.kind in ("ood", "missing"):
            assert severity is None
            continue
        assert isinstance(severity, str), registration.kind
        assert severity in registration.params.model_fields, (registration.kind, severity)


# -- parameters --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (Stuck, {"at": math.nan}, "stuck at must be a finite number"),
        (Drift, {"offset": math.inf}, "drift offset must be a finite number"),
        (Gain, {"k": math.nan}, "gain k must be a finite number"),
        (Clip, {"percentile": 40.0}, r"clip percentile must be in \(50, 100\)"),
        (Clip, {"percentile": 100.0}, r"clip percentile must be in \(50, 100\)"),
        (Quantize, {"levels": 1}, "quantize levels must be an integer >= 2"),
        (Quantize, {"levels": 2.5}, "quantize levels must be an integer >= 2"),
        (Impulse, {"fraction": 0.0}, r"impulse fraction must be in \(0, 1\]"),
        (Impulse, {"fraction": 1.5}, r"impulse fraction must be in \(0, 1\]"),
        (Impulse, {"amplitude": -1.0}, "impulse amplitude must be >= 0"),
        (Blur, {"sigma": -0.5}, "blur sigma must be >= 0"),
        (Blur, {"sigma": math.inf}, "blur sigma must be a finite number"),
        (Contrast, {"factor": -0.1}, "contrast factor must be >= 0"),
        (AudioClip, {"percentile": 0.0}, r"audio_clip percentile must be in \(0, 100\]"),
        (AudioClip, {"percentile": 101.0}, r"audio_clip percentile must be in \(0, 100\]"),
    ],
)
def test_parameter_errors_name_the_kind_and_field(
    factory: type[Corruption], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(CorruptionError, match=message):
        factory(**kwargs)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"kind": "quantize", "levels": 1}, "levels"),
        ({"kind": "clip", "percentile": 40}, "percentile"),
        ({"kind": "impulse", "fraction": 0}, "fraction"),
        ({"kind": "audio_clip", "percentile": 0}, "percentile"),
        ({"kind": "blur", "sigma": -1}, "sigma"),
        ({"kind": "contrast", "factor": -1}, "factor"),
        ({"kind": "stuck", "at": "nan"}, "at"),
        ({"kind": "drift", "offset": "inf"}, "offset"),
        ({"kind": "gain", "gain": 2.0}, "gain"),  # extra fields are forbidden
    ],
)
def test_registry_refuses_bad_parameters(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        make_corruption(spec)


@pytest.mark.parametrize(
    ("spec", "cls", "attributes"),
    [
        ({"kind": "stuck", "at": -1.0}, Stuck, {"at": -1.0}),
        ({"kind": "drift"}, Drift, {"offset": 2.0}),
        ({"kind": "gain", "k": 0.5}, Gain, {"k": 0.5}),
        ({"kind": "clip"}, Clip, {"percentile": 90.0}),
        ({"kind": "quantize", "levels": 8}, Quantize, {"levels": 8}),
        ({"kind": "impulse"}, Impulse, {"fraction": 0.25, "amplitude": 10.0}),
        ({"kind": "blur", "sigma": 2}, Blur, {"sigma": 2.0}),
        ({"kind": "contrast"}, Contrast, {"factor": 0.3}),
        ({"kind": "audio_clip"}, AudioClip, {"percentile": 80.0}),
    ],
)
def test_registry_builds_each_kind(
    spec: dict[str, Any], cls: type[Corruption], attributes: dict[str, Any]
) -> None:
    built = make_corruption(spec)
    assert type(built) is cls
    assert {k: getattr(built, k) for k in attributes} == attributes
    assert make_corruption(spec["kind"]).missing is False
