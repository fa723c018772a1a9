"""Energy-based Multi-Modal Attention (EMMA) as a plugin framework.

The public API, by layer: the contract (`hookimpl`, `Register`, the registries and the
errors), the estimator base class (`EnergyEstimator`), spec files (`load_spec`,
`parse_spec`), and assembly (`build`, `EmmaModel`, checkpoints with `save` and `load`).
"""

from emma_plugins._version import __version__
from emma_plugins.assembly import EmmaModel, EmmaOutput, build, load, save
from emma_plugins.core import (
    CheckpointError,
    ContractError,
    DataError,
    DuplicateKindError,
    EmmaError,
    EstimatorError,
    NotFittedError,
    PluginLoadError,
    Register,
    Registry,
    SpecError,
    TrainingError,
    TrainingWarning,
    UnknownKindError,
    get_registry,
    hookimpl,
    load_failures,
)
from emma_plugins.estimators import EnergyEstimator, TiedDAE
from emma_plugins.spec import EmmaSpec, load_spec, parse_spec

__all__ = [
    "CheckpointError",
    "ContractError",
    "DataError",
    "DuplicateKindError",
    "EmmaError",
    "EmmaModel",
    "EmmaOutput",
    "EmmaSpec",
    "EnergyEstimator",
    "EstimatorError",
    "NotFittedError",
    "PluginLoadError",
    "Register",
    "Registry",
    "SpecError",
    "TiedDAE",
    "TrainingError",
    "TrainingWarning",
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
