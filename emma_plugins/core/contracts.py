"""What the library calls on the components plugins build, written as ``typing.Protocol``.

Each component family has *required* protocols, which every component of the family must
satisfy, and *optional* ones, which the library uses when they are there (a correction
that can be ``calibrate``-d, a stage with constraints, a network with ``encode``/``fuse``).
An optional protocol with several members is all or nothing: ``encode`` without ``fuse``
is a mistake, reported like a missing required method.

The checks run early, never mid-training:

* when a kind is **registered** (`check_factory`), a factory that is a class must define
  every required method, else the plugin is reported as broken;
* when a kind is **built** (`check_component`), the object must satisfy the family's
  contract, else a `ContractError` names the family, kind, provider and what is missing;
* when a spec is **validated**, `factory_keyword_problems` reports a factory that would
  reject the keywords the builder passes (the parameter fields plus the family's context
  keywords), as a spec issue at the component's location.

This module is part of the contract layer: it imports nothing from the rest of the package.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from emma_plugins.core.errors import ContractError

__all__ = [
    "CONTRACTS",
    "QUANTILE_LEVELS",
    "Annealable",
    "Calibrated",
    "CalibratedByDistribution",
    "Constrained",
    "CorrectionStage",
    "CorruptionFunction",
    "CrossModalStage",
    "DataSource",
    "Describable",
    "EncodesModes",
    "EndogenousStage",
    "EnergyModel",
    "FamilyContract",
    "GateStage",
    "HasBeginFit",
    "HasCapacity",
    "HasInputLayers",
    "HasQualityScores",
    "HasScoreDistribution",
    "HasTrainingLoss",
    "HasUncertainty",
    "ImportanceStage",
    "ModalEnergyStage",
    "MultiModalNetwork",
    "ScoreDistribution",
    "check_component",
    "check_factory",
    "contract_problems",
    "factory_keyword_problems",
    "member_names",
    "missing_members",
    "quantile_grid",
    "quantile_of_grid",
]

LossFn = Callable[[Tensor, Tensor], Tensor]


# -- estimators ---------------------------------------------------------------------------------
@runtime_checkable
class EnergyModel(Protocol):
    """An energy estimator (step 1): what the attention module and stage-1 training call.

    `emma_plugins.EnergyEstimator` implements everything but ``potential`` and ``_fit``.
    """

    score_names: tuple[str, ...]

    def potential(self, x: Tensor) -> Tensor:
        """One energy per sample, ``(N,)``; higher means less typical."""
        ...

    def scores(self, x: Tensor) -> dict[str, Tensor]:
        """Every score named in ``score_names``, each ``(N,)``."""
        ...

    def score_min(self, name: str) -> Tensor:
        """The training minimum of a score (handed to the correction stage)."""
        ...

    def fit(self, data: Any, progress: bool = True) -> Any:
        """Fit on clean samples of the mode and return ``self``."""
        ...


@runtime_checkable
class HasScoreDistribution(Protocol):
    """An estimator that records more of each score's training distribution than its minimum
    (`emma_plugins.EnergyEstimator` does): what a `CalibratedByDistribution` correction needs.
    """

    def score_quantiles(self, name: str) -> Tensor:
        """The training quantiles of a score at the `QUANTILE_LEVELS`, ``[101]``."""
        ...

    def score_std(self, name: str) -> Tensor:
        """The training standard deviation of a score (population: ``ddof = 0``)."""
        ...


# -- the training distribution of the energy input ----------------------------------------------
#: The levels at which estimators record the training quantiles of every score:
#: ``0, 0.01, ..., 1`` (101 values; level 0 is the minimum, level 1 the maximum).
QUANTILE_LEVELS = 101


def quantile_grid(values: Tensor) -> Tensor:
    """The quantiles of ``values`` (any shape, flattened) at the `QUANTILE_LEVELS`, exactly
    (sorted, linear interpolation between order statistics: numpy's default method), as a
    float64 ``[101]`` tensor on the CPU. ``values`` must hold at least one value."""
    ordered = values.detach().flatten().to(device="cpu", dtype=torch.float64).sort().values
    n = ordered.numel()
    if n == 0:
        raise ValueError("quantile_grid: no values to take quantiles of.")
    steps = QUANTILE_LEVELS - 1
    position = torch.arange(QUANTILE_LEVELS, dtype=torch.float64) * (n - 1) / steps
    low = position.floor().long().clamp(max=n - 1)
    high = (low + 1).clamp(max=n - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def quantile_of_grid(grid: Tensor, level: float) -> Tensor:
    """The quantile at ``level`` in ``[0, 1]`` read from a grid ``[..., 101]`` at the
    `QUANTILE_LEVELS`, interpolated linearly between its two neighbouring levels: ``[...]``."""
    if not 0.0 <= level <= 1.0 or math.isnan(level):
        raise ValueError(f"quantile level must lie in [0, 1], got {level}.")
    steps = QUANTILE_LEVELS - 1
    position = round(level * steps, 9)  # 0.99 * 100 is 99, 0.29 * 100 is 28.999999999999996
    low = min(math.floor(position), steps)
    high = min(low + 1, steps)
    fraction = position - low
    below, above = grid[..., low], grid[..., high]
    return below if fraction == 0 else below + (above - below) * fraction


@dataclass(frozen=True)
class ScoreDistribution:
    """The training distribution of the energy input, one entry per mode, as
    `EnergyAttention.calibrate_` hands it to a `CalibratedByDistribution` correction.

    ``minimum [M]``, ``quantiles [M, 101]`` (at the `QUANTILE_LEVELS`, so column 0 is the
    minimum) and ``std [M]`` (population standard deviation) of each estimator's score over
    its clean training samples.
    """

    minimum: Tensor
    quantiles: Tensor
    std: Tensor

    def quantile(self, level: float) -> Tensor:
        """Each mode's training quantile at ``level`` in ``[0, 1]``, ``[M]``."""
        return quantile_of_grid(self.quantiles, level)

    @property
    def n_modes(self) -> int:
        return int(self.minimum.shape[0])

    @classmethod
    def from_scores(cls, scores: Tensor) -> ScoreDistribution:
        """The distribution of training scores ``[N, M]`` (e.g. in tests and the kits)."""
        if scores.dim() != 2 or scores.shape[0] == 0:
            raise ValueError(
                f"ScoreDistribution.from_scores: expected scores [N, M] with N >= 1, got shape "
                f"{tuple(scores.shape)}."
            )
        wide = scores.detach().to(device="cpu", dtype=torch.float64)
        return cls(
            minimum=wide.min(dim=0).values.to(scores),
            quantiles=torch.stack([quantile_grid(column) for column in wide.T]).to(scores),
            std=wide.std(dim=0, correction=0).to(scores),
        )


# -- attention stages: the forward of each slot -------------------------------------------------
@runtime_checkable
class CorrectionStage(Protocol):
    """Correction slot (5.3): ``forward(scores [N, M]) -> potential [N, M]``, every value >= e."""

    def forward(self, scores: Tensor) -> Tensor: ...


@runtime_checkable
class ModalEnergyStage(Protocol):
    """Modal-energy slot (5.1-5.2): ``forward(potential [N, M], present [N, M] bool)`` returns
    ``(self_energy [N, M], modal_energy [N, M])``."""

    def forward(self, potential: Tensor, present: Tensor) -> tuple[Tensor, Tensor]: ...


@runtime_checkable
class ImportanceStage(Protocol):
    """Importance slot (5.4): ``forward(modal_energy [N, M], present [N, M] bool)`` returns
    ``log_importance [N, M]``, normalised over the present modes of each sample."""

    def forward(self, modal_energy: Tensor, present: Tensor) -> Tensor: ...


@runtime_checkable
class GateStage(Protocol):
    """Gate slot (5.5): ``forward(importance [N, M]) -> attention [N, M]`` in ``[0, 1]``."""

    def forward(self, importance: Tensor) -> Tensor: ...


@runtime_checkable
class EndogenousStage(Protocol):
    """Endogenous slot (chapter 7): ``forward(modes) -> masks``, one mask shaped like each mode."""

    def forward(self, modes: Sequence[Tensor]) -> list[Tensor]: ...


@runtime_checkable
class CrossModalStage(Protocol):
    """Cross-modal slot (chapter 7): ``forward(modes, present [N, M] bool) -> modes``, each
    output shaped like its input."""

    def forward(self, modes: Sequence[Tensor], present: Tensor) -> list[Tensor]: ...


# -- attention stages: what the module, the trainer and the summaries call ----------------------
@runtime_checkable
class HasCapacity(Protocol):
    """A gate's capacity (5.7-5.9), for summaries and the ``lambda_c`` regularizer (5.10).

    Each returns a scalar tensor; ``capacity_penalty`` must carry gradients to the gate's
    parameters (return a zero tensor when the gate has no capacity to control).
    """

    def capacity(self) -> Tensor: ...

    def effective_capacity(self) -> Tensor: ...

    def capacity_penalty(self) -> Tensor: ...


@runtime_checkable
class Annealable(Protocol):
    """An importance stage whose coldness ``rho`` the trainer anneals (section 8.1)."""

    @property
    def coldness(self) -> float:
        """The current ``rho``."""
        ...

    def set_coldness(self, rho: float) -> None:
        """Set ``rho`` (called once per epoch when annealing)."""
        ...


@runtime_checkable
class Calibrated(Protocol):
    """A correction that receives the estimators' fitted minima ``[M]`` of the energy input
    (at construction, after stage 1, and on ``EnergyAttention.calibrate_()``)."""

    def calibrate(self, minima: Tensor) -> None: ...


@runtime_checkable
class CalibratedByDistribution(Protocol):
    """A correction that receives the training distribution of the energy input (a
    `ScoreDistribution`: minima, quantiles and standard deviations, ``[M]`` each or
    ``[M, 101]``), when it is calibrated. `EnergyAttention.calibrate_` calls it *instead of*
    ``calibrate(minima)`` when the stage defines it; every estimator must then implement
    `HasScoreDistribution` (`emma_plugins.EnergyEstimator` does)."""

    def calibrate_distribution(self, distribution: ScoreDistribution) -> None: ...


@runtime_checkable
class Constrained(Protocol):
    """A stage with constrained parameters: ``constrain_()`` projects them back into their
    boxes, in place, after every optimizer step."""

    def constrain_(self) -> None: ...


@runtime_checkable
class Describable(Protocol):
    """A stage that describes its parameters as plain numbers and lists (JSON-ready), for
    ``EnergyAttention.stage_parameters()``; without it, the parameter count is reported."""

    def describe(self) -> dict[str, Any]: ...


# -- networks -------------------------------------------------------------------------------------
@runtime_checkable
class MultiModalNetwork(Protocol):
    """A multi-modal network: ``forward(modes) -> logits [N, out_features]``."""

    def forward(self, modes: Sequence[Tensor]) -> Tensor: ...


@runtime_checkable
class EncodesModes(Protocol):
    """A network with per-mode encodings, for ``attention.apply_to: encodings``:
    ``fuse(encode(modes))`` equals ``forward(modes)``."""

    def encode(self, modes: Sequence[Tensor]) -> list[Tensor]: ...

    def fuse(self, encodings: Sequence[Tensor]) -> Tensor: ...


@runtime_checkable
class HasInputLayers(Protocol):
    """A network that names the layers reading what EMMA weighs (``apply_to`` is
    ``"inputs"`` or ``"encodings"``), for the annealing compensation of section 8.1."""

    def input_layers(self, apply_to: str) -> list[nn.Module]: ...


@runtime_checkable
class HasBeginFit(Protocol):
    """A network with per-sample training state, sized and reset before training."""

    def begin_fit(self, n_samples: int) -> None: ...


@runtime_checkable
class HasTrainingLoss(Protocol):
    """A network that supplies its own training objective."""

    def training_loss(
        self, output: Tensor, y: Tensor, *, epoch: int, base_loss: LossFn, index: Tensor
    ) -> Tensor: ...


@runtime_checkable
class HasQualityScores(Protocol):
    """A network that scores each mode of each sample of its last forward, ``[N, M]``."""

    def quality_scores(self) -> Tensor: ...


@runtime_checkable
class HasUncertainty(Protocol):
    """A network that gives the uncertainty of each fused prediction of its last forward."""

    def uncertainty(self) -> Tensor: ...


# -- corruptions and data sets -------------------------------------------------------------------
@runtime_checkable
class CorruptionFunction(Protocol):
    """A corruption: ``__call__(x, *, generator, context)`` returns a NEW tensor shaped like
    ``x``; ``missing`` is True for kinds that remove the mode."""

    missing: bool

    def __call__(self, x: Tensor, *, generator: Any, context: Any) -> Tensor: ...


@runtime_checkable
class DataSource(Protocol):
    """What a data-set factory returns (`emma_plugins.sources.MultiModalData` implements it)."""

    name: str
    task: str
    n_classes: int

    @property
    def mode_names(self) -> list[str]: ...

    @property
    def mode_shapes(self) -> list[tuple[int, ...]]: ...

    def to_tensors(self, modes: Sequence[str] | None = None) -> tuple[list[Tensor], Tensor]: ...

    def subset(self, indices: Any) -> Any: ...

    def __len__(self) -> int: ...


# -- the contract of each family ------------------------------------------------------------------
@dataclass(frozen=True)
class FamilyContract:
    """The protocols of one family; ``module``: components must be ``torch.nn.Module``s."""

    required: tuple[type, ...]
    optional: tuple[type, ...] = ()
    module: bool = False


_STAGE_OPTIONAL: tuple[type, ...] = (Constrained, Describable)

#: family -> its contract. Families without an entry (spec sections, commands) have none.
CONTRACTS: Mapping[str, FamilyContract] = MappingProxyType(
    {
        "estimator": FamilyContract((EnergyModel,), (HasScoreDistribution,), module=True),
        "correction": FamilyContract(
            (CorrectionStage,), (Calibrated, CalibratedByDistribution, *_STAGE_OPTIONAL), True
        ),
        "modal_energy": FamilyContract((ModalEnergyStage,), _STAGE_OPTIONAL, True),
        "importance": FamilyContract((ImportanceStage, Annealable), _STAGE_OPTIONAL, True),
        "gate": FamilyContract((GateStage, HasCapacity), _STAGE_OPTIONAL, True),
        "endogenous": FamilyContract((EndogenousStage,), _STAGE_OPTIONAL, True),
        "cross_modal": FamilyContract((CrossModalStage,), _STAGE_OPTIONAL, True),
        "network": FamilyContract(
            (MultiModalNetwork,),
            (
                EncodesModes,
                HasInputLayers,
                HasBeginFit,
                HasTrainingLoss,
                HasQualityScores,
                HasUncertainty,
            ),
            True,
        ),
        "corruption": FamilyContract((CorruptionFunction,)),
        "dataset": FamilyContract((DataSource,)),
    }
)

_PROTOCOL_INTERNALS = frozenset({"__call__"})


def member_names(protocol: type) -> tuple[str, ...]:
    """The members a protocol declares (methods, properties and annotated attributes)."""
    names: list[str] = []
    for cls in reversed(protocol.__mro__):
        if not getattr(cls, "_is_protocol", False) or cls is Protocol:
            continue
        declared = [*getattr(cls, "__annotations__", {}), *vars(cls)]
        for name in declared:
            public = not name.startswith("_") or name in _PROTOCOL_INTERNALS or name == "__len__"
            if public and name not in names:
                names.append(name)
    return tuple(names)


def _is_callable_member(protocol: type, name: str) -> bool:
    value = inspect.getattr_static(protocol, name, None)
    return callable(value) or isinstance(value, property)


def _defines(target: Any, name: str, as_class: bool) -> bool:
    """Whether ``target`` has ``name``; ``nn.Module``'s placeholder ``forward`` does not count."""
    if name == "forward":
        cls = target if as_class else type(target)
        if isinstance(cls, type) and issubclass(cls, nn.Module):
            return cls.forward is not nn.Module.forward
    if as_class:
        return inspect.getattr_static(target, name, None) is not None
    try:
        return getattr(target, name, None) is not None
    except Exception:  # a property that needs state the object does not have yet
        return True


def missing_members(target: Any, protocol: type) -> list[str]:
    """Members of ``protocol`` that ``target`` lacks.

    ``target`` is a built component, or a class (a factory): on a class only methods and
    properties are looked for, since attributes may be set in ``__init__``.
    """
    as_class = isinstance(target, type)
    return [
        name
        for name in member_names(protocol)
        if (not as_class or _is_callable_member(protocol, name))
        and not _defines(target, name, as_class)
    ]


def _show(protocol: type, name: str) -> str:
    return f"{name}()" if _is_callable_member(protocol, name) else name


def contract_problems(family: str, target: Any) -> list[str]:
    """What ``target`` (a component, or a factory class) lacks of ``family``'s contract."""
    contract = CONTRACTS.get(family)
    if contract is None:
        return []
    problems: list[str] = []
    as_class = isinstance(target, type)
    if contract.module:
        is_module = issubclass(target, nn.Module) if as_class else isinstance(target, nn.Module)
        if not is_module:
            problems.append("it is not a torch.nn.Module (subclass nn.Module)")
    for protocol in contract.required:
        absent = missing_members(target, protocol)
        if absent:
            shown = ", ".join(_show(protocol, name) for name in absent)
            problems.append(f"missing {shown} ({protocol.__name__}: {_summary(protocol)})")
    for protocol in contract.optional:
        names = member_names(protocol)
        absent = missing_members(target, protocol)
        if 0 < len(absent) < len(names):
            present = [n for n in names if n not in absent]
            problems.append(
                f"defines {', '.join(_show(protocol, n) for n in present)} but not "
                f"{', '.join(_show(protocol, n) for n in absent)}: the optional "
                f"{protocol.__name__} protocol is all or nothing ({_summary(protocol)})"
            )
    return problems


def _summary(protocol: type) -> str:
    doc = inspect.getdoc(protocol) or protocol.__name__
    return " ".join(doc.split("\n\n")[0].split()).replace("``", "").rstrip(".")


def _name(target: Any) -> str:
    target = target if isinstance(target, type) else type(target)
    return getattr(target, "__qualname__", repr(target))


def _raise(problems: list[str], family: str, what: str, label: str | None) -> None:
    if problems:
        raise ContractError(
            f"{label or family} {what} does not fulfil the {family} contract: "
            f"{'; '.join(problems)}. See emma_plugins.core.contracts and docs/hooks.md."
        )


def check_factory(
    family: str, factory: Any, *, kind: str, provider: str, label: str | None = None
) -> None:
    """At registration: a factory that is a class must define every required method.

    Factories that are functions are checked when they build (`check_component`).
    """
    if isinstance(factory, type):
        what = f"kind {kind!r} ({_name(factory)}, from {provider!r})"
        _raise(contract_problems(family, factory), family, what, label)


def check_component(
    family: str, component: Any, *, kind: str, provider: str, label: str | None = None
) -> None:
    """At build time: ``component`` satisfies ``family``'s contract, else `ContractError`."""
    what = f"kind {kind!r} (built {_name(component)}, from {provider!r})"
    _raise(contract_problems(family, component), family, what, label)


def factory_keyword_problems(
    factory: Callable[..., Any], keywords: Iterable[str], supplied: Iterable[str] = ()
) -> list[str]:
    """Why calling ``factory(**{k: ... for k in keywords})`` would fail, from its signature.

    ``keywords`` are what the builder passes (parameter fields and context keywords); a
    factory that takes ``**kwargs`` accepts any. ``supplied`` lists further keywords that
    count as given. Returns ``[]`` when the signature cannot be read.
    """
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return []
    parameters = signature.parameters.values()
    named = {
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    passed = list(dict.fromkeys(keywords))
    problems = []
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        rejected = [k for k in passed if k not in named]
        if rejected:
            problems.append(
                f"does not accept the keyword(s) {', '.join(rejected)} that the builder passes"
            )
    given = set(passed) | set(supplied)
    required = [
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and p.name not in given
    ]
    if required:
        problems.append(f"requires {', '.join(required)}, which the builder never passes")
    return problems
