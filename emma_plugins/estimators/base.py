"""The `EnergyEstimator` contract: one potential energy per sample, higher = less typical."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from emma_plugins.core.contracts import QUANTILE_LEVELS, quantile_grid, quantile_of_grid
from emma_plugins.core.errors import EstimatorError, NotFittedError

if TYPE_CHECKING:
    import pandas as pd

#: What `fit` and the checks accept (pandas is imported only by whoever passes a frame).
ArrayLike: TypeAlias = "Tensor | np.ndarray | pd.DataFrame"


@runtime_checkable
class Rows(Protocol):
    """Samples decoded on demand (a folder too large for memory), indexed like a tensor.

    `EnergyEstimator.fit` and `calibrate` accept them: the shared mini-batch loop
    (`emma_plugins.estimators.training.fit_minibatch`) only takes ``len(rows)``,
    ``rows[index]`` (a batch tensor on ``rows.device``) and ``rows.split(size)``.
    """

    @property
    def device(self) -> torch.device: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: Tensor) -> Tensor: ...

    def split(self, size: int) -> Iterator[Tensor]: ...

    def to(self, device: torch.device) -> Rows: ...


def as_rows(data: ArrayLike | Rows, device: torch.device) -> Tensor | Rows:
    """``data`` on ``device``: `Rows` stay lazy, anything else becomes a float32 tensor."""
    if isinstance(data, Rows) and not isinstance(data, Tensor):
        return data.to(device)
    return as_tensor(data).to(device)


def as_tensor(data: ArrayLike, dtype: torch.dtype = torch.float32) -> Tensor:
    """Accept a tensor, numpy array or DataFrame, as scikit-learn estimators do."""
    pandas = sys.modules.get("pandas")  # a frame exists only if pandas was imported
    if pandas is not None and isinstance(data, pandas.DataFrame | pandas.Series):
        data = data.to_numpy(copy=True)  # pandas may hand out a read-only view of the frame
    if isinstance(data, np.ndarray):
        return torch.as_tensor(np.ascontiguousarray(data), dtype=dtype)
    if isinstance(data, Tensor):
        return data.to(dtype)
    raise TypeError(
        f"Expected a torch.Tensor, numpy array or pandas DataFrame, got {type(data).__name__}."
    )


class EnergyEstimator(nn.Module):
    """Base class of every energy estimator (step 1 of EMMA).

    Contract, checked by `emma_plugins.testing.check_estimator`:

    * ``potential(x)`` returns a tensor of shape ``(N,)``: the potential energy Psi of each
      sample, proportional to ``-log p(x)`` up to a constant (higher = less typical). It
      must not depend on the other samples in the batch.
    * ``scores(x)`` returns named per-sample scores, at least ``potential`` and
      ``grad_norm`` (the norm of d Psi / d x, by autograd unless a subclass knows better),
      so the attention module can take either as its energy input by name.
    * ``fit(data)`` trains the estimator and returns ``self``; it then records the training
      distribution of every score in buffers: its minimum (``potential_min``,
      ``grad_norm_min``), which the correction stage (5.3) needs, its quantiles at levels
      ``0, 0.01, ..., 1`` (``potential_quantiles [101]``) and its standard deviation
      (``potential_std``), which the ``standardized`` correction needs. Buffers are saved
      with ``state_dict`` and follow ``.to()``; a state dict saved before the quantiles and
      standard deviations were recorded still loads (they stay NaN, and `score_quantiles`
      and `score_std` then ask for a recalibration).

    Subclasses implement ``potential`` and ``_fit``.
    """

    score_names: tuple[str, ...] = ("potential", "grad_norm")

    def __init__(self) -> None:
        super().__init__()
        for name in self.score_names:
            self.register_buffer(f"{name}_min", torch.tensor(float("nan")))
            self.register_buffer(f"{name}_quantiles", torch.full((QUANTILE_LEVELS,), float("nan")))
            self.register_buffer(f"{name}_std", torch.tensor(float("nan")))
        #: Why the last calibration failed (non-finite scores), for `score_min`'s error.
        self._nonfinite: str | None = None

    # -- the contract ----------------------------------------------------------------------
    def potential(self, x: Tensor) -> Tensor:
        """Potential energy per sample, shape ``(N,)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement potential(x).")

    def _fit(self, x: Tensor, progress: bool) -> None:
        """Train the estimator's parameters on clean samples ``x``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _fit(x, progress).")

    def forward(self, x: Tensor) -> Tensor:
        return self.potential(x)

    def grad_norm(self, x: Tensor, create_graph: bool = False) -> Tensor:
        """``||d Psi / d x||`` per sample, by autograd (works under ``torch.no_grad`` too)."""
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(
                self.potential(leaf).sum(), leaf, create_graph=create_graph
            )
        return grad.flatten(1).norm(dim=1)

    def scores(self, x: Tensor) -> dict[str, Tensor]:
        """Named per-sample scores; the attention module picks one by name."""
        return {"potential": self.potential(x), "grad_norm": self.grad_norm(x)}

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, data: ArrayLike | Rows, progress: bool = True, **kwargs: Any) -> EnergyEstimator:
        """Train on clean samples and record the training minimum of each score.

        ``data`` may be `Rows` decoded on demand; an estimator whose ``_fit`` trains through
        `emma_plugins.estimators.training.fit_minibatch` then never holds all of them."""
        x: Any = as_rows(data, self._device())
        frozen = {name for name, p in self.named_parameters() if not p.requires_grad}
        self.requires_grad_(True)  # an estimator frozen inside EMMA can still be refitted
        self.train()
        try:
            self._fit(x, progress=progress, **kwargs)
        finally:
            self.eval()
            for name, parameter in self.named_parameters():
                parameter.requires_grad_(name not in frozen)
        self.calibrate(x)
        return self

    @torch.no_grad()
    def calibrate(self, x: ArrayLike | Rows, batch_size: int = 4096) -> EnergyEstimator:
        """Record the training distribution of every score over ``x``: its minimum (the
        Psi_min of equation 5.3), its quantiles at levels ``0, 0.01, ..., 1`` and its
        standard deviation.

        ``x`` is scored chunk by chunk (`Rows` are decoded on demand); only the scores are
        kept, one float per sample and score, and the statistics are computed exactly from
        them in float64 on the CPU.
        """
        x = as_rows(x, self._device())
        if len(x) == 0:
            raise ValueError(f"{self.label()}: calibrate(x) needs at least one sample, got 0.")
        columns: dict[str, list[Tensor]] = {name: [] for name in self.score_names}
        for chunk in x.split(batch_size):
            for name, value in self.scores(chunk).items():
                if name in columns:
                    columns[name].append(value.detach().flatten())
        absent = [name for name, parts in columns.items() if not parts]
        if absent:
            raise ValueError(
                f"{self.label()}: scores(x) returned no {', '.join(absent)}; it must return "
                f"every score of score_names ({', '.join(self.score_names)})."
            )
        scores = {name: torch.cat(parts) for name, parts in columns.items()}
        if not all(bool(torch.isfinite(value).all()) for value in scores.values()):
            self._nonfinite = self._nonfinite_message(scores)
            for name in self.score_names:
                for statistic in ("min", "quantiles", "std"):
                    getattr(self, f"{name}_{statistic}").fill_(float("nan"))  # no longer fitted
            raise EstimatorError(self._nonfinite)
        self._nonfinite = None
        for name, value in scores.items():
            wide = value.to(device="cpu", dtype=torch.float64)
            getattr(self, f"{name}_min").copy_(value.min())
            getattr(self, f"{name}_quantiles").copy_(quantile_grid(wide))
            getattr(self, f"{name}_std").copy_(wide.std(correction=0))
        return self

    def _nonfinite_message(self, scores: dict[str, Tensor]) -> str:
        found = ", ".join(
            f"{name} min = {float(value.min())}, max = {float(value.max())}"
            for name, value in scores.items()
        )
        return (
            f"{self.label()} produced non-finite values on its calibration data "
            f"({found}). Its fit diverged (lower its learning rate or noise) or the data "
            "holds NaN or infinite values: refit it on finite data."
        )

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """Load state dicts saved before the quantiles and standard deviations existed: when
        a score's ``_min`` is there but its ``_quantiles`` or ``_std`` is not, leave those
        NaN (`score_quantiles` and `score_std` then ask for a recalibration)."""
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        for key in self.optional_state_keys():
            if f"{prefix}{key}" in state_dict:
                continue
            score = key.rsplit("_", 1)[0]
            if f"{prefix}{score}_min" not in state_dict:
                continue  # not an older state dict of this estimator: keep it missing
            getattr(self, key).fill_(float("nan"))  # stale statistics of other weights
            if f"{prefix}{key}" in missing_keys:
                missing_keys.remove(f"{prefix}{key}")

    def optional_state_keys(self) -> tuple[str, ...]:
        """State keys (relative to this module) that older state dicts lack and that load
        without: each score's ``_quantiles`` and ``_std``."""
        return tuple(
            f"{name}_{statistic}" for name in self.score_names for statistic in ("quantiles", "std")
        )

    def label(self) -> str:
        """The estimator's class and parameters, as error messages name it."""
        return f"{type(self).__name__}({self.extra_repr()})"

    def score_min(self, name: str) -> Tensor:
        """The fitted training minimum of score ``name``."""
        return self._statistic(name, "min", "minimum")

    def score_quantiles(self, name: str) -> Tensor:
        """The training quantiles of score ``name`` at levels ``0, 0.01, ..., 1``, ``[101]``."""
        return self._statistic(name, "quantiles", "quantiles")

    def score_quantile(self, name: str, level: float) -> Tensor:
        """The training quantile of score ``name`` at ``level`` in ``[0, 1]`` (linear
        interpolation between the recorded levels ``0, 0.01, ..., 1``), a scalar tensor."""
        return quantile_of_grid(self.score_quantiles(name), level)

    def score_std(self, name: str) -> Tensor:
        """The training standard deviation of score ``name`` (population, ``ddof = 0``)."""
        return self._statistic(name, "std", "standard deviation")

    def _statistic(self, name: str, statistic: str, what: str) -> Tensor:
        if name not in self.score_names:
            raise KeyError(
                f"{type(self).__name__} has no score {name!r}. "
                f"Available: {', '.join(self.score_names)}."
            )
        value: Tensor = getattr(self, f"{name}_{statistic}")
        if bool(torch.isnan(value).any()):
            nonfinite: str | None = getattr(self, "_nonfinite", None)
            if nonfinite is not None:
                raise EstimatorError(nonfinite)
            if not self.is_fitted:
                raise NotFittedError(
                    f"{type(self).__name__} is not fitted: call .fit(data) or .calibrate(data) "
                    f"before using its {name!r} {what}."
                )
            raise NotFittedError(
                f"{self.label()} has no training {what} of its {name!r} score: its state was "
                "saved before estimators recorded their training quantiles and standard "
                "deviations. Recalibrate it on its clean training samples, "
                "estimator.calibrate(clean_training_rows) (then "
                "EnergyAttention.calibrate_()), before using a correction that needs them."
            )
        return value

    @property
    def is_fitted(self) -> bool:
        return not bool(torch.isnan(getattr(self, f"{self.score_names[0]}_min")))

    def _device(self) -> torch.device:
        first = next(iter([*self.parameters(), *self.buffers()]), None)
        return first.device if first is not None else torch.device("cpu")
