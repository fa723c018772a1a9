"""`build_attention`: an `EnergyAttention` from stage configs, kinds looked up in the registries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from emma_plugins.attention.module import STAGE_SLOTS, EnergyAttention
from emma_plugins.core.contracts import check_component
from emma_plugins.core.errors import SpecError
from emma_plugins.core.plugins import get_registry
from emma_plugins.estimators import EnergyEstimator

#: Kinds used for slots the caller leaves out; endogenous and cross_modal stay empty.
DEFAULT_STAGES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "correction": MappingProxyType({"kind": "min_shift"}),
        "modal_energy": MappingProxyType({"kind": "coupled"}),
        "importance": MappingProxyType({"kind": "boltzmann"}),
        "gate": MappingProxyType({"kind": "shared_tanh"}),
    }
)

#: Slots whose factories also receive ``mode_shapes``.
SHAPED_SLOTS = ("endogenous", "cross_modal")


def build_attention(
    estimators: Sequence[EnergyEstimator],
    mode_shapes: Sequence[tuple[int, ...]],
    stages: Mapping[str, Mapping[str, Any] | BaseModel] | None = None,
    energy_input: str = "potential",
) -> EnergyAttention:
    """Build every slot with ``get_registry(slot).get(kind).build(params, n_modes=..., ...)``.

    ``stages`` maps a slot to ``{"kind": ..., **params}`` (or a pydantic model with a
    ``kind`` field). Slots left out use `DEFAULT_STAGES`.
    """
    stages = dict(stages or {})
    unknown = sorted(set(stages) - set(STAGE_SLOTS))
    if unknown:
        raise SpecError(
            f"Unknown attention slot(s) {', '.join(map(repr, unknown))}. "
            f"Slots: {', '.join(STAGE_SLOTS)}."
        )
    n_modes = len(estimators)
    if n_modes < 2:
        raise SpecError(
            f"EnergyAttention needs at least 2 modes (one estimator each), got {n_modes}."
        )
    shapes = [tuple(shape) for shape in mode_shapes]
    if len(shapes) != n_modes:
        raise SpecError(
            f"build_attention: {len(shapes)} mode shapes for {n_modes} estimators; "
            "give one sample shape per mode."
        )
    built: dict[str, Any] = {}
    for slot in STAGE_SLOTS:
        config = stages.get(slot, DEFAULT_STAGES.get(slot))
        if config is None:
            continue
        built[slot] = _build_stage(slot, config, n_modes, shapes)
    return EnergyAttention(estimators, **built, energy_input=energy_input)


def _build_stage(
    slot: str,
    config: Mapping[str, Any] | BaseModel,
    n_modes: int,
    shapes: list[tuple[int, ...]],
) -> Any:
    params: BaseModel | dict[str, Any]
    if isinstance(config, BaseModel):
        kind, params = getattr(config, "kind", None), config
    else:
        params = dict(config)
        kind = params.pop("kind", None)
    if not isinstance(kind, str):
        raise SpecError(f"stages.{slot}: missing 'kind' (e.g. {{'kind': ...}}).")
    context: dict[str, Any] = {"n_modes": n_modes}
    if slot in SHAPED_SLOTS:
        context["mode_shapes"] = shapes
    registry = get_registry(slot)
    registration = registry.get(kind)
    try:
        stage = registration.build(params, **context)
    except ValidationError as exc:
        raise SpecError(f"stages.{slot} (kind {kind!r}): {exc}") from exc
    check_component(slot, stage, kind=kind, provider=registration.provider, label=registry.label)
    return stage
