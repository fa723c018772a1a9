"""Corruption schemes: which fraction of samples gets which modes corrupted, and how.

A scheme is a list of groups ``(fraction, {mode: corruption})`` whose fractions sum to 1;
an empty mapping is the clean group. Applied to a split, it gives every group an exact
number of samples (largest remainder of ``fraction * N``) chosen by a seeded permutation,
stratified by class when labels are given, and corrupts copies of the modes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from emma_plugins.corruptions.base import Corruption, CorruptionContext, CorruptionError
from emma_plugins.corruptions.catalog import make_corruption
from emma_plugins.corruptions.gaussian import GaussianNoise

CorruptionLike = Corruption | str | Mapping[str, Any]
FRACTION_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CorruptionGroup:
    """A fraction of the samples and the corruption applied to each of its modes."""

    fraction: float
    corruptions: Mapping[str, Corruption]


@dataclass(frozen=True)
class CorruptedBatch:
    """The result of applying a scheme to one split.

    :param modes: new tensors, one per mode, in ``mode_names`` order.
    :param missing: ``(N, M)`` bool, True where the mode is absent (its values are zeros).
    :param corrupted: ``(N, M)`` bool, True where the mode was corrupted in any way.
    :param xi: ``(N, M)`` float32, +1 for a clean mode and -1 for a corrupted one (the
        indicator of the energy regularizer, equation 5.10).
    :param group: ``(N,)`` int64, the scheme group of each sample.
    """

    modes: list[Tensor]
    mode_names: list[str]
    missing: Tensor
    corrupted: Tensor
    xi: Tensor
    group: Tensor

    def __len__(self) -> int:
        return len(self.group)

    @property
    def present(self) -> Tensor:
        """``(N, M)`` bool, True where the mode is present (the complement of ``missing``)."""
        return ~self.missing


class CorruptionScheme:
    """Groups of samples, each with its own corrupted modes; see the module docstring.

    ``CorruptionScheme([(0.5, {}), (0.25, {"ip": GaussianNoise(0.5)}),
    (0.25, {"dm_snr": GaussianNoise(0.5)})])`` is the thesis scheme for HTRU2. A corruption
    may also be given as a kind name or ``{"kind": ..., **params}`` from the registry.
    """

    def __init__(self, groups: Sequence[Any], *, stratify: bool = True) -> None:
        self.groups: tuple[CorruptionGroup, ...] = tuple(
            _as_group(g, i) for i, g in enumerate(groups)
        )
        self.stratify = stratify
        _check_fractions([g.fraction for g in self.groups])

    # -- common schemes ------------------------------------------------------------------
    @classmethod
    def thesis(
        cls,
        mode_names: Sequence[str],
        sigma: float = 0.5,
        *,
        clean: float = 0.5,
        corruption: CorruptionLike | None = None,
        per_mode: Mapping[str, CorruptionLike] | None = None,
    ) -> CorruptionScheme:
        """``clean`` of the samples untouched, the rest split evenly over "only mode i fails".

        For two modes and the defaults: 50 % clean, 25 % only the first mode with Gaussian
        noise ``sigma``, 25 % only the second (thesis section 6.3.1). ``per_mode`` gives a
        mode its own corruption (pixel noise on an image, white noise on audio); the other
        modes get ``corruption``, else Gaussian noise ``sigma``.
        """
        if not mode_names:
            raise CorruptionError("CorruptionScheme.thesis needs at least one mode name.")
        own = dict(per_mode or {})
        unknown = sorted(set(own) - set(mode_names))
        if unknown:
            raise CorruptionError(
                f"per_mode names unknown mode(s) {unknown}; the modes are {', '.join(mode_names)}."
            )
        fail = make_corruption(corruption) if corruption is not None else GaussianNoise(sigma)
        share = (1.0 - clean) / len(mode_names)
        groups: list[tuple[float, Mapping[str, CorruptionLike]]] = [(clean, {})]
        groups += [(share, {name: own.get(name, fail)}) for name in mode_names]
        return cls(groups)

    @classmethod
    def uniform(cls, corruptions: Mapping[str, CorruptionLike]) -> CorruptionScheme:
        """Every sample gets the same corruptions (one condition of an evaluation sweep)."""
        return cls([(1.0, corruptions)])

    @classmethod
    def clean(cls) -> CorruptionScheme:
        return cls([(1.0, {})])

    # -- use -----------------------------------------------------------------------------
    def group_sizes(self, n: int) -> list[int]:
        """Exact samples per group for ``n`` samples: largest remainder of ``fraction * n``."""
        raw = [g.fraction * n for g in self.groups]
        sizes = [math.floor(r + FRACTION_TOLERANCE) for r in raw]
        order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - sizes[i]), i))
        for i in order[: n - sum(sizes)]:
            sizes[i] += 1
        return sizes

    def assign(self, n: int, generator: torch.Generator, y: Tensor | None = None) -> Tensor:
        """Group index of each of ``n`` samples, ``(n,)`` int64 on the CPU.

        With labels and ``stratify``, each class is spread over the groups in proportion
        (within one sample per group), so no corrupted group runs short of a rare class.
        """
        sizes = torch.tensor(self.group_sizes(n))
        ids = torch.repeat_interleave(torch.arange(len(sizes)), sizes)
        order = torch.randperm(n, generator=generator, device=generator.device).cpu()
        if self.stratify and y is not None:
            order = order[torch.argsort(y.cpu()[order], stable=True)]  # class blocks, shuffled
            keys = torch.cat([(torch.arange(int(s)) + 0.5) / max(int(s), 1) for s in sizes])
            ids = ids[torch.argsort(keys, stable=True)]  # groups interleaved evenly
        group = torch.empty(n, dtype=torch.long)
        group[order] = ids
        return group

    def apply(
        self,
        modes: Sequence[Tensor],
        mode_names: Sequence[str],
        y: Tensor | None = None,
        seed: int = 0,
        *,
        stats: Mapping[str, tuple[Tensor, Tensor]] | None = None,
    ) -> CorruptedBatch:
        """Corrupt copies of ``modes`` (one tensor per mode, rows = samples).

        :param y: per-sample class labels, for stratification and for kinds that need
            them (``ood`` with ``other_class``).
        :param seed: seeds the group assignment and every corruption's randomness.
        :param stats: mode -> (training mean, training std) per feature, for kinds that
            work in training units; omit for standardized data.
        """
        names = list(mode_names)
        n = self._check_inputs(modes, names, y)
        generator = torch.Generator().manual_seed(seed)
        group = self.assign(n, generator, y)
        out = [mode.clone() for mode in modes]
        corrupted = torch.zeros(n, len(names), dtype=torch.bool)
        missing = torch.zeros(n, len(names), dtype=torch.bool)
        for g, spec in enumerate(self.groups):
            rows_cpu = torch.nonzero(group == g).squeeze(1)
            if rows_cpu.numel() == 0:
                continue
            for mode, corruption in spec.corruptions.items():
                i = names.index(mode)
                rows = rows_cpu.to(modes[i].device)
                mean, std = stats[mode] if stats is not None and mode in stats else (None, None)
                context = CorruptionContext(
                    mode=mode,
                    labels=None if y is None else y[rows.to(y.device)],
                    pool=modes[i],
                    pool_labels=y,
                    mean=mean,
                    std=std,
                )
                new = corruption(modes[i][rows], generator=generator, context=context)
                if new.shape != out[i][rows].shape:
                    raise CorruptionError(
                        f"corruption {corruption!r} on mode {mode!r} returned shape "
                        f"{tuple(new.shape)} for input {tuple(out[i][rows].shape)}."
                    )
                out[i][rows] = new.to(out[i].dtype)
                corrupted[rows_cpu, i] = True
                missing[rows_cpu, i] |= bool(corruption.missing)
        device = modes[0].device
        return CorruptedBatch(
            modes=out,
            mode_names=names,
            missing=missing.to(device),
            corrupted=corrupted.to(device),
            xi=(1.0 - 2.0 * corrupted.float()).to(device),
            group=group.to(device),
        )

    def _check_inputs(self, modes: Sequence[Tensor], names: list[str], y: Tensor | None) -> int:
        if len(modes) != len(names) or not modes:
            raise CorruptionError(
                f"got {len(modes)} mode tensors and {len(names)} mode names; give one name "
                "per tensor, in the same order."
            )
        lengths = {len(m) for m in modes}
        if len(lengths) != 1:
            raise CorruptionError(
                f"mode tensors have different numbers of rows: {sorted(lengths)}."
            )
        n = lengths.pop()
        if y is not None and len(y) != n:
            raise CorruptionError(f"y has {len(y)} labels for {n} samples.")
        for g, spec in enumerate(self.groups):
            unknown = [m for m in spec.corruptions if m not in names]
            if unknown:
                raise CorruptionError(
                    f"corruption group {g} names unknown mode(s) {unknown}; the modes are "
                    f"{', '.join(names)}."
                )
        return n

    def describe(self) -> list[dict[str, Any]]:
        """JSON-ready summary: each group's fraction and its corruption per mode."""
        return [
            {"fraction": g.fraction, "corruptions": {m: repr(c) for m, c in g.corruptions.items()}}
            for g in self.groups
        ]

    def __repr__(self) -> str:
        return f"CorruptionScheme({self.describe()})"


def corrupt_all(
    modes: Sequence[Tensor],
    mode_names: Sequence[str],
    corruptions: Mapping[str, CorruptionLike],
    y: Tensor | None = None,
    seed: int = 0,
    *,
    stats: Mapping[str, tuple[Tensor, Tensor]] | None = None,
) -> CorruptedBatch:
    """Apply one condition to every sample, e.g. ``{"ip": GaussianNoise(2.0)}`` in a sweep."""
    return CorruptionScheme.uniform(corruptions).apply(modes, mode_names, y, seed, stats=stats)


def _as_group(group: Any, index: int) -> CorruptionGroup:
    if isinstance(group, CorruptionGroup):
        fraction, corruptions = group.fraction, group.corruptions
    elif isinstance(group, Sequence) and len(group) == 2 and isinstance(group[1], Mapping):
        fraction, corruptions = group
    else:
        raise CorruptionError(
            f"corruption group {index} must be (fraction, {{mode: corruption}}), got {group!r}."
        )
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise CorruptionError(
            f"corruption group {index}: fraction must be a number, got {fraction!r}."
        )
    built = {str(mode): make_corruption(c) for mode, c in corruptions.items()}
    return CorruptionGroup(float(fraction), built)


def _check_fractions(fractions: list[float]) -> None:
    if not fractions:
        raise CorruptionError("a CorruptionScheme needs at least one group, e.g. (1.0, {}).")
    bad = [f for f in fractions if not (math.isfinite(f) and 0.0 <= f <= 1.0)]
    if bad:
        raise CorruptionError(f"corruption group fractions must lie in [0, 1], got {bad}.")
    total = math.fsum(fractions)
    if abs(total - 1.0) > FRACTION_TOLERANCE:
        listed = " + ".join(f"{f:g}" for f in fractions)
        raise CorruptionError(
            f"corruption group fractions must sum to 1, got {listed} = {total:g}; adjust them "
            "(include the clean group, e.g. (0.5, {}))."
        )
