"""Corruption kinds: new tensors only, seeded, and each failing in its own way."""

from __future__ import annotations

import pytest
import torch

from emma_plugins import get_registry
from emma_plugins.core.errors import UnknownKindError
from emma_plugins.corruptions import (
    Corruption,
    CorruptionContext,
    CorruptionError,
    GaussianNoise,
    MissingMode,
    OutOfDistribution,
    make_corruption,
)


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


#: Per-sample shapes for kinds that need structured samples (images, spectrograms).
SAMPLE_SHAPES = {
    "occlusion": (1, 8, 8),
    "blur": (1, 8, 8),
    "contrast": (1, 8, 8),
    "time_mask": (16, 4),
    "audio_clip": (16, 4),
}


def sample_shape(kind: str) -> tuple[int, ...]:
    return SAMPLE_SHAPES.get(kind, (5,))


def labelled_context(x: torch.Tensor, labels: torch.Tensor) -> CorruptionContext:
    return CorruptionContext(mode="m", labels=labels, pool=x, pool_labels=labels)


@pytest.mark.parametrize("kind", get_registry("corruption").kinds())
def test_every_kind_returns_a_new_tensor(kind: str) -> None:
    x = torch.randn(64, *sample_shape(kind), generator=generator(1))
    labels = torch.arange(64) % 2
    before = x.clone()
    corruption = make_corruption(kind)
    out = corruption(x, generator=generator(), context=labelled_context(x, labels))
    assert torch.equal(x, before)  # input untouched
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.data_ptr() != x.data_ptr()
    out.add_(1.0)
    assert torch.equal(x, before)  # and not aliased


@pytest.mark.parametrize("kind", get_registry("corruption").kinds())
def test_every_kind_is_seeded(kind: str) -> None:
    x = torch.randn(32, *sample_shape(kind), generator=generator(1))
    ctx = labelled_context(x, torch.arange(32) % 3)
    corruption = make_corruption(kind)
    a = corruption(x, generator=generator(5), context=ctx)
    b = corruption(x, generator=generator(5), context=ctx)
    assert torch.equal(a, b)


def test_gaussian_noise_has_sigma() -> None:
    x = torch.zeros(20_000, 4)
    out = GaussianNoise(0.5)(x, generator=generator(), context=CorruptionContext("m"))
    assert out.std().item() == pytest.approx(0.5, rel=0.02)
    assert out.mean().abs().item() < 0.01
    assert torch.equal(
        GaussianNoise(0.0)(x, generator=generator(), context=CorruptionContext("m")), x
    )


def test_gaussian_rejects_negative_sigma() -> None:
    with pytest.raises(CorruptionError, match="sigma must be >= 0"):
        GaussianNoise(-1.0)


def test_missing_zeroes_and_declares_itself() -> None:
    x = torch.randn(10, 3)
    assert MissingMode.missing and not GaussianNoise.missing and not OutOfDistribution.missing
    assert not MissingMode()(x, generator=generator(), context=CorruptionContext("m")).any()


def test_uniform_box_lands_far_from_training_data() -> None:
    train = torch.randn(5_000, 4, generator=generator(2))  # standardized training cloud
    out = OutOfDistribution()(train, generator=generator(), context=CorruptionContext("m"))
    inside = (out.abs() < 3.0).all(dim=1).float().mean().item()
    assert inside < 0.02  # clean data: ~99 % of rows inside the +/- 3 std box
    assert (train.abs() < 3.0).all(dim=1).float().mean().item() > 0.97
    assert out.abs().max().item() <= 10.0
    assert out.norm(dim=1).median().item() > 5 * train.norm(dim=1).median().item()


def test_uniform_box_uses_training_statistics() -> None:
    x = torch.zeros(1_000, 2)
    ctx = CorruptionContext("m", mean=torch.tensor([100.0, -5.0]), std=torch.tensor([2.0, 0.1]))
    out = OutOfDistribution(low=-1.0, high=1.0)(x, generator=generator(), context=ctx)
    assert out[:, 0].min() >= 98.0 and out[:, 0].max() <= 102.0
    assert out[:, 1].min() >= -5.1 and out[:, 1].max() <= -4.9


def test_other_class_rows_come_from_another_class() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 0])
    pool = torch.stack([labels.float(), torch.arange(10.0)], dim=1)  # row = (class, index)
    rows = torch.tensor([0, 3, 5, 9, 4])
    ctx = CorruptionContext("m", labels=labels[rows], pool=pool, pool_labels=labels)
    before = pool.clone()
    out = OutOfDistribution("other_class")(pool[rows], generator=generator(), context=ctx)
    out.add_(0.0)
    assert torch.equal(pool, before)
    picked = out[:, 1].long()
    assert torch.equal(out, pool[picked])  # real rows of the pool
    assert (labels[picked] != labels[rows]).all()


def test_other_class_covers_every_other_row() -> None:
    labels = torch.tensor([0, 1, 1, 2])
    pool = torch.arange(4.0).unsqueeze(1)
    x = pool[:1].expand(4_000, 1)
    ctx = CorruptionContext(
        "m", labels=torch.zeros(4_000, dtype=torch.long), pool=pool, pool_labels=labels
    )
    out = OutOfDistribution("other_class")(x, generator=generator(), context=ctx)
    counts = torch.bincount(out.squeeze(1).long(), minlength=4)
    assert counts[0] == 0 and (counts[1:] > 1_200).all()  # uniform over rows 1, 2, 3


def test_other_class_needs_labels_and_two_classes() -> None:
    x = torch.randn(5, 2)
    with pytest.raises(CorruptionError, match="needs labels, pool, pool_labels"):
        OutOfDistribution("other_class")(x, generator=generator(), context=CorruptionContext("m"))
    same = torch.zeros(5, dtype=torch.long)
    with pytest.raises(CorruptionError, match="at least two classes"):
        OutOfDistribution("other_class")(
            x, generator=generator(), context=labelled_context(x, same)
        )


def test_ood_validates_its_parameters() -> None:
    with pytest.raises(CorruptionError, match="strategy"):
        OutOfDistribution("sideways")  # type: ignore[arg-type]
    with pytest.raises(CorruptionError, match="below high"):
        OutOfDistribution(low=1.0, high=-1.0)


def test_make_corruption_from_registry() -> None:
    built = make_corruption({"kind": "gaussian", "sigma": 2.0})
    assert isinstance(built, GaussianNoise) and built.sigma == 2.0
    assert isinstance(make_corruption("missing"), MissingMode)
    instance = OutOfDistribution()
    assert make_corruption(instance) is instance
    assert make_corruption({"kind": "ood", "strategy": "other_class"}).strategy == "other_class"
    with pytest.raises(UnknownKindError, match="Did you mean 'gaussian'"):
        make_corruption("gausian")
    with pytest.raises(ValueError, match="sigma"):
        make_corruption({"kind": "gaussian", "sigma": -1})
    with pytest.raises(ValueError, match="low"):
        make_corruption({"kind": "ood", "low": 5, "high": 1})
    with pytest.raises(CorruptionError, match="'kind' key"):
        make_corruption({"sigma": 1.0})


def test_corruption_is_abstract() -> None:
    with pytest.raises(TypeError):
        Corruption()  # type: ignore[abstract]
