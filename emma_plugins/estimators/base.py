"""The `EnergyEstimator` contract: one potential energy per sample, higher = less typical."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

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
      minimum of every score in buffers (``potential_min``, ``grad_norm_min``), which the
      correction stage (5.3) needs. Buffers are saved with ``state_dict`` and follow ``.to()``.

    Subclasses implement ``potential`` and ``_fit``.
    """

    score_names: tuple[str, ...] = ("potential", "grad_norm")

    def __init__(self) -> None:
        super().__init__()
        for name in self.score_names:
            self.register_buffer(f"{name}_min", torch.tensor(float("nan")))
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
        """Store the minimum of every score over ``x`` (the Psi_min of equation 5.3)."""
        x = as_rows(x, self._device())
        minima = {name: torch.tensor(float("inf"), device=x.device) for name in self.score_names}
        for chunk in x.split(batch_size):
            for name, value in self.scores(chunk).items():
                minima[name] = torch.minimum(minima[name], value.detach().min())
        values = torch.stack(list(minima.values()))
        if not bool(torch.isfinite(values).all()):
            self._nonfinite = self._nonfinite_message(minima)
            for name in self.score_names:
                getattr(self, f"{name}_min").fill_(float("nan"))  # no longer fitted
            raise EstimatorError(self._nonfinite)
        self._nonfinite = None
        for name, value in minima.items():
            getattr(self, f"{name}_min").copy_(value)
        return self

    def _nonfinite_message(self, minima: dict[str, Tensor]) -> str:
        found = ", ".join(f"{name} min = {float(value)}" for name, value in minima.items())
        return (
            f"{self.label()} produced non-finite values on its calibration data "
            f"({found}). Its fit diverged (lower its learning rate or noise) or the data "
            "holds NaN or infinite values: refit it on finite data."
        )

    def label(self) -> str:
        """The estimator's class and parameters, as error messages name it."""
        return f"{type(self).__name__}({self.extra_repr()})"

    def score_min(self, name: str) -> Tensor:
        """The fitted training minimum of score ``name``."""
        if name not in self.score_names:
            raise KeyError(
                f"{type(self).__name__} has no score {name!r}. "
                f"Available: {', '.join(self.score_names)}."
            )
        value: Tensor = getattr(self, f"{name}_min")
        if torch.isnan(value):
            nonfinite: str | None = getattr(self, "_nonfinite", None)
            if nonfinite is not None:
                raise EstimatorError(nonfinite)
            raise NotFittedError(
                f"{type(self).__name__} is not fitted: call .fit(data) or .calibrate(data) "
                f"before using its {name!r} minimum."
            )
        return value

    @property
    def is_fitted(self) -> bool:
        return not bool(torch.isnan(getattr(self, f"{self.score_names[0]}_min")))

    def _device(self) -> torch.device:
        first = next(iter([*self.parameters(), *self.buffers()]), None)
        return first.device if first is not None else torch.device("cpu")
