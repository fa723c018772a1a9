"""The test conditions: every method sees the same ones, each corrupts what its name says."""

from __future__ import annotations

import torch
from _experiment_samples import small_data
from emma_lab.experiments.protocol import prepare_seed
from emma_lab.robustness.protocol import build_conditions, condition_names
from emma_lab.robustness.suite import MultiModeSpec, ProtocolSpec

MODES = ["mean", "error", "worst"]


def _conditions(seed: int = 0, **protocol: object):
    data = prepare_seed(small_data(), MODES, seed=seed, sigma=0.5)
    spec = ProtocolSpec(multi_mode=MultiModeSpec(counts=[1, 2], sigma=1.0), **protocol)
    return data, spec, build_conditions(data, spec)


def test_conditions_come_in_the_order_of_their_names_and_are_repeatable() -> None:
    data, spec, conditions = _conditions()
    assert [c.name for c in conditions] == condition_names(MODES, spec)
    assert len(conditions) == 1 + 3 * 4 + 3 + 3 + 2
    again = build_conditions(data, spec)
    for a, b in zip(conditions, again, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a.split.modes, b.split.modes, strict=True))


def test_noise_conditions_touch_one_mode_at_their_level_with_shared_draws() -> None:
    data, _, conditions = _conditions()
    clean = data.clean["test"]
    by_name = {c.name: c for c in conditions}
    low, high = by_name["noise:error@0.5"].split, by_name["noise:error@3"].split
    for i, mode in enumerate(MODES):
        if mode != "error":
            assert torch.equal(low.modes[i], clean.modes[i])
    delta_low = low.modes[1] - clean.modes[1]
    delta_high = high.modes[1] - clean.modes[1]
    assert torch.allclose(delta_high, 6 * delta_low, atol=1e-4)  # one draw, scaled
    assert abs(float(delta_high.std()) - 3.0) < 0.3
    assert low.corrupted[:, 1].all() and not low.corrupted[:, [0, 2]].any()
    assert torch.equal(low.y, clean.y)


def test_ood_missing_and_multi_mode_conditions() -> None:
    data, _, conditions = _conditions()
    clean = data.clean["test"]
    by_name = {c.name: c for c in conditions}
    ood = by_name["ood:worst"].split
    assert float(ood.modes[2].abs().mean()) > 3 * float(clean.modes[2].abs().mean())
    missing = by_name["missing:mean"].split
    assert missing.missing[:, 0].all() and not missing.missing[:, 1:].any()
    assert float(missing.modes[0].abs().sum()) == 0.0
    two = by_name["noise:2modes@1"].split
    assert (two.corrupted.sum(dim=1) == 2).all()
    assert not two.missing.any()
    shares = two.corrupted.float().mean(dim=0)
    assert torch.allclose(shares, torch.full((3,), 2 / 3), atol=0.1)  # subsets spread evenly
    assert by_name["noise:1modes@1"].split.corrupted.sum(dim=1).eq(1).all()


def test_optional_conditions_can_be_left_out() -> None:
    _, spec, conditions = _conditions(ood=None, missing=False, noise_levels=[0.0, 2.0])
    assert [c.family for c in conditions] == ["clean", "noise", "noise", "noise", "multi", "multi"]
    assert [c.name for c in conditions] == condition_names(MODES, spec)
