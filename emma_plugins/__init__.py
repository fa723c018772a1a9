"""Energy-based Multi-Modal Attention (EMMA) as a plugin framework.

Public API: the plugin contract (`hookimpl`), the registries (`get_registry`) and the
estimator base class (`EnergyEstimator`).
"""

from .errors import (
    CheckpointError,
    DataError,
    DuplicateKindError,
    EmmaError,
    NotFittedError,
    PluginLoadError,
    SpecError,
    UnknownKindError,
)
from .estimators import EnergyEstimator, TiedDAE
from .hookspecs import hookimpl
from .plugins import get_registry, load_failures
from .registry import Registry

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "DataError",
    "DuplicateKindError",
    "EmmaError",
    "EnergyEstimator",
    "NotFittedError",
    "PluginLoadError",
    "Registry",
    "SpecError",
    "TiedDAE",
    "UnknownKindError",
    "__version__",
    "get_registry",
    "hookimpl",
    "load_failures",
]
