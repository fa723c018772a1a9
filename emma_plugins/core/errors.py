"""The library's exception types, so callers can catch exactly what went wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class EmmaError(Exception):
    """Base class of every error raised on purpose by emma_plugins."""


class UnknownKindError(EmmaError, KeyError):
    """A kind was asked for that no plugin registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateKindError(EmmaError):
    """Two providers registered the same kind in one family."""


class PluginLoadError(EmmaError):
    """A plugin failed to load while strict mode is on."""


class ContractError(EmmaError, TypeError):
    """A component lacks what its family's contract requires (`emma_plugins.core.contracts`)."""


class NotFittedError(EmmaError, RuntimeError):
    """A fitted statistic was used before `fit` computed it."""


class TrainingError(EmmaError, RuntimeError):
    """Training produced a non-finite loss, so the model it was training cannot be kept.

    ``desc`` names what was training (the trainer's ``desc``: ``base``, ``with``, or the
    estimator being fitted), ``epoch`` and ``batch`` where it happened (1-based; ``batch``
    is None for a validation loss, ``epoch`` 0 for the validation loss before training).
    """

    def __init__(
        self, message: str, *, desc: str = "", epoch: int | None = None, batch: int | None = None
    ) -> None:
        super().__init__(message)
        self.desc, self.epoch, self.batch = desc, epoch, batch


class EstimatorError(EmmaError, RuntimeError):
    """An energy estimator produced non-finite values from finite inputs (a diverged fit,
    damaged weights), when it was calibrated or when the attention module read it."""


class TrainingWarning(UserWarning):
    """Training ended without improving on the initial state (best epoch 0)."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec: where it is (``modes[1].estimator.hidden``) and what is wrong."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class SpecError(EmmaError, ValueError):
    """A spec file or spec object is invalid.

    ``issues`` lists every problem found with its location inside the spec, and ``source``
    names the file it came from, so callers and tests can check exactly what went wrong.
    """

    def __init__(
        self, message: str, *, issues: Sequence[SpecIssue] = (), source: str | None = None
    ) -> None:
        super().__init__(message)
        self.issues = tuple(issues)
        self.source = source


class CheckpointError(EmmaError):
    """A checkpoint is missing, truncated or disagrees with its spec."""


class DataError(EmmaError):
    """A data set could not be found, downloaded or verified."""
