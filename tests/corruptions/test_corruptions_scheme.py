"""Corruption schemes: exact group sizes, xi and masks, seeding, validation."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins.corruptions import (
    CorruptionError,
    CorruptionScheme,
    GaussianNoise,
    MissingMode,
    OutOfDistribution,
    corrupt_all,
)

NAMES = ["ip", "dm_snr"]


def split_tensors(n: int, seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    modes = [torch.randn(n, 4, generator=g), torch.randn(n, 3, generator=g)]
    y = (torch.rand(n, generator=g) < 0.1).long()
    return modes, y


def test_thesis_scheme_fractions_are_exact() -> None:
    modes, y = split_tensors(400)
    batch = CorruptionScheme.thesis(NAMES).apply(modes, NAMES, y, seed=0)
    assert torch.bincount(batch.group).tolist() == [200, 100, 100]
    assert batch.corrupted.sum(0).tolist() == [100, 100]
    assert not batch.corrupted.all(dim=1).any()  # never both modes at once


@pytest.mark.parametrize("n", [401, 402, 403, 7, 1])
def test_thesis_scheme_within_one_otherwise(n: int) -> None:
    modes, y = split_tensors(n)
    counts = torch.bincount(
        CorruptionScheme.thesis(NAMES).apply(modes, NAMES, y).group, minlength=3
    )
    assert counts.sum() == n
    for count, fraction in zip(counts.tolist(), [0.5, 0.25, 0.25], strict=True):
        assert abs(count - fraction * n) < 1


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.integers(0, 20), min_size=1, max_size=6).filter(lambda w: sum(w) > 0),
    n=st.integers(0, 500),
)
def test_group_sizes_are_exact_and_close(weights: list[int], n: int) -> None:
    fractions = [w / sum(weights) for w in weights]
    scheme = CorruptionScheme([(f, {}) for f in fractions])
    sizes = scheme.group_sizes(n)
    assert sum(sizes) == n
    assert all(abs(s - f * n) < 1 for s, f in zip(sizes, fractions, strict=True))


def test_xi_and_corrupted_match_the_groups() -> None:
    modes, y = split_tensors(200)
    batch = CorruptionScheme.thesis(NAMES).apply(modes, NAMES, y, seed=3)
    assert batch.xi.dtype == torch.float32
    assert torch.equal(batch.xi, torch.where(batch.corrupted, -1.0, 1.0))
    assert (batch.xi[batch.group == 0] == 1).all()
    assert torch.equal(
        batch.corrupted[batch.group == 1], torch.tensor([[True, False]]).expand(50, 2)
    )
    assert torch.equal(
        batch.corrupted[batch.group == 2], torch.tensor([[False, True]]).expand(50, 2)
    )
    assert not batch.missing.any()


def test_only_corrupted_values_change_and_inputs_stay() -> None:
    modes, y = split_tensors(200)
    before = [m.clone() for m in modes]
    batch = CorruptionScheme.thesis(NAMES, sigma=0.5).apply(modes, NAMES, y, seed=1)
    for i in range(2):
        assert torch.equal(modes[i], before[i])
        changed = (batch.modes[i] != modes[i]).any(dim=1)
        assert torch.equal(changed, batch.corrupted[:, i])
        noise = batch.modes[i][batch.corrupted[:, i]] - modes[i][batch.corrupted[:, i]]
        assert noise.std().item() == pytest.approx(0.5, rel=0.15)


def test_missing_flags_the_mask_and_zeroes() -> None:
    modes, y = split_tensors(100)
    scheme = CorruptionScheme([(0.6, {}), (0.4, {"dm_snr": MissingMode()})])
    batch = scheme.apply(modes, NAMES, y, seed=0)
    gone = batch.missing[:, 1]
    assert gone.sum() == 40 and not batch.missing[:, 0].any()
    assert torch.equal(gone, batch.corrupted[:, 1])
    assert not batch.modes[1][gone].any()
    assert torch.equal(batch.modes[1][~gone], modes[1][~gone])
    assert torch.equal(batch.present, ~batch.missing)


def test_seeded_determinism() -> None:
    modes, y = split_tensors(120)
    scheme = CorruptionScheme.thesis(NAMES)
    a, b = scheme.apply(modes, NAMES, y, seed=7), scheme.apply(modes, NAMES, y, seed=7)
    c = scheme.apply(modes, NAMES, y, seed=8)
    assert torch.equal(a.group, b.group) and all(map(torch.equal, a.modes, b.modes))
    assert not torch.equal(a.group, c.group)


def test_stratified_groups_share_the_rare_class() -> None:
    y = torch.cat([torch.zeros(900), torch.ones(100)]).long()
    modes = [torch.zeros(1000, 2), torch.zeros(1000, 2)]
    batch = CorruptionScheme.thesis(NAMES).apply(modes, NAMES, y, seed=0)
    positives = torch.bincount(batch.group[y == 1], minlength=3).tolist()
    assert all(abs(p - e) <= 2 for p, e in zip(positives, [50, 25, 25], strict=True))


def test_thesis_scheme_for_three_modes() -> None:
    scheme = CorruptionScheme.thesis(["a", "b", "c"], sigma=1.0)
    assert [g.fraction for g in scheme.groups] == pytest.approx([0.5, 1 / 6, 1 / 6, 1 / 6])
    assert [list(g.corruptions) for g in scheme.groups] == [[], ["a"], ["b"], ["c"]]
    assert scheme.group_sizes(600) == [300, 100, 100, 100]


def test_other_class_scheme_uses_the_split_as_pool() -> None:
    modes, y = split_tensors(300)
    modes[0][:, 0] = y.float() * 100  # the class is written into the first feature
    batch = corrupt_all(modes, NAMES, {"ip": OutOfDistribution("other_class")}, y, seed=0)
    assert torch.equal(batch.modes[0][:, 0], (1 - y).float() * 100)  # binary: the other class


def test_corrupt_all_hits_every_sample_on_one_mode() -> None:
    modes, y = split_tensors(50)
    batch = corrupt_all(modes, NAMES, {"dm_snr": GaussianNoise(2.0)}, y, seed=0)
    assert batch.corrupted[:, 1].all() and not batch.corrupted[:, 0].any()
    assert torch.equal(batch.modes[0], modes[0])
    assert batch.modes[0] is not modes[0]
    assert (batch.modes[1] != modes[1]).all()


def test_corruptions_given_as_specs() -> None:
    scheme = CorruptionScheme([(0.5, {}), (0.5, {"ip": {"kind": "gaussian", "sigma": 1.5}})])
    assert isinstance(scheme.groups[1].corruptions["ip"], GaussianNoise)
    assert scheme.groups[1].corruptions["ip"].sigma == 1.5  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([(0.5, {}), (0.4, {})], r"must sum to 1, got 0\.5 \+ 0\.4 = 0\.9"),
        ([(1.2, {}), (-0.2, {})], r"must lie in \[0, 1\]"),
        ([], "at least one group"),
        ([(0.5,)], r"must be \(fraction, \{mode: corruption\}\)"),
        ([("half", {})], "fraction must be a number"),
    ],
)
def test_invalid_schemes_are_rejected(groups: list[object], message: str) -> None:
    with pytest.raises(CorruptionError, match=message):
        CorruptionScheme(groups)


def test_apply_checks_its_inputs() -> None:
    modes, y = split_tensors(10)
    with pytest.raises(CorruptionError, match=r"unknown mode\(s\) \['ip'\].*a, b"):
        CorruptionScheme.thesis(NAMES).apply(modes, ["a", "b"], y)
    with pytest.raises(CorruptionError, match="one name per tensor"):
        CorruptionScheme.clean().apply(modes, ["ip"], y)
    with pytest.raises(CorruptionError, match="different numbers of rows"):
        CorruptionScheme.clean().apply([modes[0], modes[1][:5]], NAMES, y)
    with pytest.raises(CorruptionError, match="y has 3 labels for 10 samples"):
        CorruptionScheme.clean().apply(modes, NAMES, y[:3])


def test_clean_scheme_copies_and_changes_nothing() -> None:
    modes, y = split_tensors(20)
    batch = CorruptionScheme.clean().apply(modes, NAMES, y)
    assert all(map(torch.equal, batch.modes, modes)) and (batch.xi == 1).all()
    assert len(batch) == 20 and (batch.group == 0).all()
    assert all(m is not c for m, c in zip(batch.modes, modes, strict=True))


def test_describe_is_json_ready() -> None:
    described = CorruptionScheme.thesis(NAMES, sigma=0.5).describe()
    assert described[0] == {"fraction": 0.5, "corruptions": {}}
    assert described[1] == {"fraction": 0.25, "corruptions": {"ip": "GaussianNoise(sigma=0.5)"}}


def test_thesis_scheme_gives_each_mode_its_own_kind() -> None:
    scheme = CorruptionScheme.thesis(
        ["image", "audio", "text"], sigma=0.7, per_mode={"image": {"kind": "pixel_noise"}}
    )
    kinds = [{m: type(c).__name__ for m, c in g.corruptions.items()} for g in scheme.groups]
    assert kinds == [
        {},
        {"image": "PixelNoise"},
        {"audio": "GaussianNoise"},
        {"text": "GaussianNoise"},
    ]
    assert scheme.groups[2].corruptions["audio"].sigma == 0.7  # type: ignore[attr-defined]
    with pytest.raises(CorruptionError, match=r"unknown mode\(s\) \['video'\]"):
        CorruptionScheme.thesis(["image"], per_mode={"video": "missing"})
