"""The per-sample report of one pass through the attention module (steps 1-4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    import pandas as pd

#: Per-mode fields whose value means nothing for a missing mode (shown as NaN in frames).
MEANINGLESS_WHEN_MISSING = (
    "raw_potential",
    "potential",
    "self_energy",
    "modal_energy",
    "log_importance",
)


@dataclass
class AttentionReport:
    """What EMMA measured and decided for each sample, all ``[N, M]`` except ``total_energy``.

    Every tensor is finite. Entries of a missing mode hold 0 (``importance`` and ``attention``
    are exactly 0 there, which is meaningful; the other fields are placeholders, and
    `to_frame` shows them as NaN).

    * ``raw_potential``: the estimator score chosen as energy input (step 1).
    * ``potential``: after the correction (5.3).
    * ``self_energy``: ``e_i`` (5.1); ``modal_energy``: ``E_i`` (5.1-5.2).
    * ``log_importance``: ``log alpha_i``; ``importance``: ``alpha_i`` (5.4).
    * ``attention``: ``beta_i`` (5.5).
    * ``missing``: bool, the modes treated as missing: the mask the module was given (or
      all False) plus the invalid ones.
    * ``invalid``: bool, the present modes whose values were invalid (a NaN or infinite
      value, or a squared norm that overflows), which the module treated as missing.
    * ``total_energy``: ``sum_i E_i`` over present modes, shape ``[N]`` (section 5.6).
    """

    raw_potential: Tensor
    potential: Tensor
    self_energy: Tensor
    modal_energy: Tensor
    log_importance: Tensor
    importance: Tensor
    attention: Tensor
    missing: Tensor
    invalid: Tensor
    total_energy: Tensor

    @property
    def present(self) -> Tensor:
        """``~missing``."""
        return ~self.missing

    @property
    def n_modes(self) -> int:
        return int(self.attention.shape[1])

    def detach(self) -> AttentionReport:
        """The same report cut from the autograd graph (for logging and storing)."""
        return replace(self, **{f.name: getattr(self, f.name).detach() for f in fields(self)})

    def to_frame(self, mode_names: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per sample; columns ``<field>_<mode>``, then ``total_energy``.

        Placeholder entries of missing modes become NaN so that tables and means skip them.
        """
        import pandas as pd

        n_modes = self.n_modes
        names = [f"mode{i}" for i in range(n_modes)] if mode_names is None else list(mode_names)
        if len(names) != n_modes:
            raise ValueError(
                f"to_frame: mode_names has {len(names)} names but the report has {n_modes} "
                "modes; pass one name per mode."
            )
        missing = self.missing.detach().cpu()
        columns: dict[str, object] = {}
        for f in fields(self):
            if f.name == "total_energy":
                continue
            values = getattr(self, f.name).detach().cpu()
            if f.name in ("missing", "invalid"):
                values = values.bool()
            else:
                values = values.double()
                if f.name in MEANINGLESS_WHEN_MISSING:
                    values = values.masked_fill(missing, float("nan"))
            for i, name in enumerate(names):
                columns[f"{f.name}_{name}"] = values[:, i].numpy()
        columns["total_energy"] = self.total_energy.detach().cpu().double().numpy()
        return pd.DataFrame(columns)


def empty_mask(n_samples: int, n_modes: int, device: torch.device) -> Tensor:
    """An all-False ``missing`` mask."""
    return torch.zeros(n_samples, n_modes, dtype=torch.bool, device=device)
