"""Sweeps of one mode's corruption kind over strength levels (pixel noise sigma, white-noise
SNR, occlusion size, ...), stacked into one split so one forward pass scores them all.

`protocol.noise_grid` sweeps Gaussian noise on any mix of modes; a `CorruptionSweep` sweeps
any registered corruption kind on one mode, through the corruption registry. Every level is
drawn from the same seed, so for the additive kinds (``gaussian``, ``pixel_noise``,
``white_noise``) every block holds the same noise draw scaled to its level (common random
numbers): a curve over the levels varies only the level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from emma_lab.experiments.protocol import corrupted_copy
from emma_plugins.corruptions import Corruption, CorruptionScheme, make_corruption
from emma_plugins.training.batches import TensorSplit


@dataclass(frozen=True)
class CorruptionSweep:
    """Mode ``mode`` corrupted by ``kind`` with ``param`` set to each of ``levels``.

    ``levels`` run from mild to severe (``[20, 10, 0, -10]`` for ``snr_db``); ``params``
    are the kind's other, fixed parameters.
    """

    mode: str
    kind: str
    param: str
    levels: tuple[float, ...]
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError(f"the sweep of mode {self.mode!r} needs at least one level.")
        if self.param in self.params:
            raise ValueError(
                f"the sweep of mode {self.mode!r} sets {self.param!r} per level; remove it "
                "from the fixed params."
            )

    def corruption(self, level: float) -> Corruption:
        """The corruption at one level, built through the registry (so plugin kinds work)."""
        return make_corruption({"kind": self.kind, **self.params, self.param: level})

    @property
    def label(self) -> str:
        """``kind param``, the name of the swept axis."""
        return f"{self.kind} {self.param}"

    @classmethod
    def from_spec(cls, spec: Any) -> CorruptionSweep:
        """From a spec's ``evaluation.sweeps`` entry (`SweepSpec`); the kind's default for
        the swept parameter is dropped."""
        fixed = {k: v for k, v in spec.corruption.params().items() if k != spec.param}
        return cls(
            spec.mode, spec.corruption.kind, spec.param, tuple(map(float, spec.levels)), fixed
        )


def stack_splits(parts: Sequence[TensorSplit]) -> TensorSplit:
    """The splits one after the other (block ``k`` is ``parts[k]``)."""
    if not parts:
        raise ValueError("stack_splits needs at least one split.")
    n_modes = len(parts[0].modes)
    return TensorSplit(
        [torch.cat([p.modes[m] for p in parts]) for m in range(n_modes)],
        torch.cat([p.y for p in parts]),
        torch.cat([p.missing for p in parts]),
        torch.cat([p.xi for p in parts]),
    )


def sweep_grid(
    split_: TensorSplit, mode_names: Sequence[str], sweep: CorruptionSweep, seed: int
) -> TensorSplit:
    """The split stacked ``1 + len(levels)`` times: block 0 clean, block ``k`` with the
    sweep's mode corrupted at ``levels[k - 1]`` (``xi`` and ``missing`` say so)."""
    if sweep.mode not in mode_names:
        raise ValueError(
            f"the sweep names mode {sweep.mode!r}; the modes are {', '.join(mode_names)}."
        )
    blocks = [split_]
    for level in sweep.levels:
        scheme = CorruptionScheme.uniform({sweep.mode: sweep.corruption(level)})
        blocks.append(corrupted_copy(split_, mode_names, scheme, seed))
    return stack_splits(blocks)
