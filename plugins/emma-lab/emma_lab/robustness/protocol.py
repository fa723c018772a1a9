"""The test conditions of one seed, built once and shown to every method.

* ``clean``;
* ``noise:<mode>@<sigma>``: Gaussian noise on one mode, every level of the sweep (one
  noise draw per mode scaled to each level, so a curve varies only the level);
* ``ood:<mode>``: one mode replaced by out-of-distribution values;
* ``missing:<mode>``: one mode absent (flagged in the mask, zero-filled);
* ``noise:<k>modes@<sigma>``: noise on ``k`` modes at once, every ``k``-subset of the
  modes on an equal share of the samples;
* with the unanticipated suite (``protocol.failures``), ``fail:<kind>@<severity>:<mode>``
  and ``fail:<kind>@<severity>:<k>modes``: each failure kind at each severity on one mode
  at a time and on ``k`` modes at once (``fail:<kind>:...`` for kinds without severity).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import torch

from emma_lab.experiments.protocol import SeedData, corrupted_copy, noise_grid
from emma_lab.robustness.suite import FailureSpec, ProtocolSpec, UnanticipatedSpec
from emma_plugins.corruptions import (
    Corruption,
    CorruptionScheme,
    GaussianNoise,
    MissingMode,
    make_corruption,
)
from emma_plugins.training.batches import TensorSplit

#: Condition families, in table order.
FAMILIES = ("clean", "noise", "ood", "missing", "multi", "failure")


@dataclass(frozen=True)
class Condition:
    """One test condition: its name, family, the corrupted mode and level where it has
    them, and the test split as every method sees it; a failure also names its kind and
    how many modes fail at once."""

    name: str
    family: str
    mode: str | None
    level: float | None
    split: TensorSplit
    kind: str | None = None
    count: int | None = None


def noise_name(mode: str, level: float) -> str:
    return f"noise:{mode}@{level:g}"


def multi_name(count: int, level: float) -> str:
    return f"noise:{count}modes@{level:g}"


def failure_name(kind: str, severity: float | None, where: str | int) -> str:
    """``fail:<kind>@<severity>:<mode>``, or ``...:<k>modes`` for ``k`` modes at once."""
    level = "" if severity is None else f"@{severity:g}"
    target = f"{where}modes" if isinstance(where, int) else where
    return f"fail:{kind}{level}:{target}"


def _failure_targets(failure: FailureSpec, mode_names: list[str], counts: list[int]) -> list[Any]:
    """Each single mode the failure may hit, then each count of modes at once it allows."""
    modes = failure.modes or mode_names
    targets: list[Any] = []
    for count in counts:
        if count == 1:
            targets += [m for m in mode_names if m in modes]
        elif count <= len(modes):
            targets.append(count)
    return targets


def failure_names(mode_names: list[str], protocol: ProtocolSpec) -> list[str]:
    """The unanticipated suite's condition names (none without ``protocol.failures``)."""
    suite = protocol.failures
    if suite is None:
        return []
    return [
        failure_name(f.kind, level, target)
        for f in suite.failures
        for level in f.levels()
        for target in _failure_targets(f, mode_names, suite.counts)
    ]


def condition_names(mode_names: list[str], protocol: ProtocolSpec) -> list[str]:
    """Every condition's name, in table order (what `build_conditions` builds)."""
    names = ["clean"]
    names += [noise_name(m, s) for m in mode_names for s in protocol.noise_levels[1:]]
    if protocol.ood is not None:
        names += [f"ood:{m}" for m in mode_names]
    if protocol.missing:
        names += [f"missing:{m}" for m in mode_names]
    if protocol.multi_mode is not None:
        names += [multi_name(k, protocol.multi_mode.sigma) for k in protocol.multi_mode.counts]
    return names + failure_names(mode_names, protocol)


def _sweep(test: TensorSplit, names: list[str], levels: list[float], seed: int) -> list[Condition]:
    noisy_levels = np.asarray(levels[1:], dtype=np.float32)
    n_modes, n = len(names), len(test)
    sigmas = np.zeros((n_modes * len(noisy_levels), n_modes), dtype=np.float32)
    for i in range(n_modes):
        sigmas[i * len(noisy_levels) : (i + 1) * len(noisy_levels), i] = noisy_levels
    stacked = noise_grid(test, sigmas, seed)
    out = []
    for block, (i, level) in enumerate(
        (i, float(level)) for i in range(n_modes) for level in noisy_levels
    ):
        part = stacked.take(torch.arange(block * n, (block + 1) * n, device=test.y.device))
        out.append(Condition(noise_name(names[i], level), "noise", names[i], level, part))
    return out


def _subsets_scheme(names: list[str], count: int, corruption: Corruption) -> CorruptionScheme:
    """``corruption`` on ``count`` of ``names`` at once, every subset on an equal share."""
    subsets = list(combinations(names, count))
    return CorruptionScheme(
        [(1.0 / len(subsets), {m: corruption for m in subset}) for subset in subsets]
    )


def _failure_conditions(
    test: TensorSplit, names: list[str], suite: UnanticipatedSpec, base: int
) -> list[Condition]:
    out = []
    for f in suite.failures:
        for level, corruption in f.corruptions():
            for target in _failure_targets(f, names, suite.counts):
                name = failure_name(f.kind, level, target)
                seed = base + zlib.crc32(name.encode()) % 100_000
                if isinstance(target, int):
                    scheme = _subsets_scheme(f.modes or names, target, corruption)
                    mode, count = None, target
                else:
                    scheme = CorruptionScheme.uniform({target: corruption})
                    mode, count = target, 1
                split_ = corrupted_copy(test, names, scheme, seed)
                out.append(Condition(name, "failure", mode, level, split_, f.kind, count))
    return out


def build_conditions(data: SeedData, protocol: ProtocolSpec) -> list[Condition]:
    """The conditions of `condition_names`, on the seed's clean test split."""
    test, names = data.clean["test"], data.mode_names
    base = data.seed * 7919 + 101  # apart from prepare_seed's corruption seeds
    out = [Condition("clean", "clean", None, 0.0, test)]
    out += _sweep(test, names, protocol.noise_levels, base)
    if protocol.ood is not None:
        ood = make_corruption(protocol.ood)
        for i, mode in enumerate(names):
            split_ = corrupted_copy(
                test, names, CorruptionScheme.uniform({mode: ood}), base + i + 1
            )
            out.append(Condition(f"ood:{mode}", "ood", mode, None, split_))
    if protocol.missing:
        for mode in names:
            split_ = corrupted_copy(test, names, CorruptionScheme.uniform({mode: MissingMode()}), 0)
            out.append(Condition(f"missing:{mode}", "missing", mode, None, split_))
    if protocol.multi_mode is not None:
        sigma = protocol.multi_mode.sigma
        for count in protocol.multi_mode.counts:
            scheme = _subsets_scheme(names, count, GaussianNoise(sigma))
            split_ = corrupted_copy(test, names, scheme, base + 1000 + count)
            out.append(Condition(multi_name(count, sigma), "multi", None, sigma, split_))
    if protocol.failures is not None:
        out += _failure_conditions(test, names, protocol.failures, base + 5000)
    return out
