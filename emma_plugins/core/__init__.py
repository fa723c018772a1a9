"""The contract: hook specifications, registries, plugin loading and the errors they raise.

Everything else in the package builds on this layer; it imports nothing from the rest.
"""

from emma_plugins.core.errors import (
    CheckpointError,
    ContractError,
    DataError,
    DuplicateKindError,
    EmmaError,
    EstimatorError,
    NotFittedError,
    PluginLoadError,
    SpecError,
    TrainingError,
    TrainingWarning,
    UnknownKindError,
)
from emma_plugins.core.hookspecs import Register, hookimpl, hookspec
from emma_plugins.core.plugins import (
    PluginHost,
    get_registry,
    load_failures,
    plugin_host,
    reset_plugins,
)
from emma_plugins.core.registry import NoParams, Registration, Registry

__all__ = [
    "CheckpointError",
    "ContractError",
    "DataError",
    "DuplicateKindError",
    "EmmaError",
    "EstimatorError",
    "NoParams",
    "NotFittedError",
    "PluginHost",
    "PluginLoadError",
    "Register",
    "Registration",
    "Registry",
    "SpecError",
    "TrainingError",
    "TrainingWarning",
    "UnknownKindError",
    "get_registry",
    "hookimpl",
    "hookspec",
    "load_failures",
    "plugin_host",
    "reset_plugins",
]
