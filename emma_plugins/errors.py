"""The library's exception types, so callers can catch exactly what went wrong."""

from __future__ import annotations


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


class NotFittedError(EmmaError, RuntimeError):
    """A fitted statistic was used before `fit` computed it."""


class SpecError(EmmaError, ValueError):
    """A spec file or spec object is invalid."""


class CheckpointError(EmmaError):
    """A checkpoint is missing, truncated or disagrees with its spec."""


class DataError(EmmaError):
    """A data set could not be found, downloaded or verified."""
