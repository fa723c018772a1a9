"""Energy-based Multi-Modal Attention (EMMA) as a plugin framework.

Public API: the plugin contract (`hookimpl`), the registries (`get_registry`), the
estimator base class (`EnergyEstimator`), spec files (`load_spec`, `parse_spec`), the
builder (`build`, `EmmaModel`) and checkpoints (`save`, `load`).
"""

from .builder import build
from .checkpoint import load, save
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
from .model import EmmaModel, EmmaOutput
from .plugins import get_registry, load_failures
from .registry import Registry
from .spec import EmmaSpec, load_spec, parse_spec

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "DataError",
    "DuplicateKindError",
    "EmmaError",
    "EmmaModel",
    "EmmaOutput",
    "EmmaSpec",
    "EnergyEstimator",
    "NotFittedError",
    "PluginLoadError",
    "Registry",
    "SpecError",
    "TiedDAE",
    "UnknownKindError",
    "__version__",
    "build",
    "get_registry",
    "hookimpl",
    "load",
    "load_failures",
    "load_spec",
    "parse_spec",
    "save",
]
