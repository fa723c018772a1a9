"""Registry: add / get / kinds, duplicate and unknown-kind messages, building with params."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from emma_plugins.core.errors import DuplicateKindError, EmmaError, UnknownKindError
from emma_plugins.core.registry import NoParams, Registry


class ScaleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scale: float = 1.0


def component(**kwargs: Any) -> dict[str, Any]:
    return kwargs


def estimators(*kinds: str) -> Registry:
    registry = Registry("estimator")
    for kind in kinds:
        registry.add(kind, component, ScaleParams, provider="emma-plugins")
    return registry


def test_add_get_and_listing_are_sorted() -> None:
    registry = estimators("gaussian", "dae")
    assert registry.kinds() == ["dae", "gaussian"]
    assert [entry.kind for entry in registry] == ["dae", "gaussian"]
    assert len(registry) == 2
    assert "dae" in registry and "dea" not in registry
    entry = registry.get("dae")
    assert (entry.kind, entry.factory, entry.params, entry.provider) == (
        "dae",
        component,
        ScaleParams,
        "emma-plugins",
    )
    assert repr(registry) == "Registry('estimator', kinds=['dae', 'gaussian'])"


def test_unknown_kind_suggests_the_closest_and_lists_all() -> None:
    registry = estimators("dae", "gaussian")
    with pytest.raises(UnknownKindError) as info:
        registry.get("dea")
    expected = "Unknown estimator 'dea'. Did you mean 'dae'? Available: dae, gaussian."
    assert str(info.value) == expected
    assert isinstance(info.value, KeyError) and isinstance(info.value, EmmaError)


def test_unknown_kind_without_a_close_match_or_any_kind() -> None:
    with pytest.raises(UnknownKindError) as info:
        estimators("dae", "gaussian").get("transformer")
    assert str(info.value) == "Unknown estimator 'transformer'. Available: dae, gaussian."
    empty = Registry("modal_energy", "modal energy")
    with pytest.raises(UnknownKindError) as info:
        empty.get("sum")
    assert str(info.value) == "Unknown modal energy 'sum'. Available: (none)."


def test_duplicate_kind_names_both_providers() -> None:
    registry = estimators("dae")
    with pytest.raises(DuplicateKindError) as info:
        registry.add("dae", component, provider="emma-copycat")
    assert str(info.value) == (
        "Duplicate estimator kind 'dae': registered by 'emma-plugins' and again by "
        "'emma-copycat'. Rename one of them or uninstall one provider."
    )
    assert registry.get("dae").provider == "emma-plugins"  # the first registration stays


@pytest.mark.parametrize(
    ("kind", "factory", "params", "error", "message"),
    [
        ("", component, None, ValueError, "kind must be a non-empty string, got ''"),
        (3, component, None, ValueError, "kind must be a non-empty string, got 3"),
        ("x", "not callable", None, TypeError, "factory of estimator kind 'x' must be callable"),
        ("x", component, dict, TypeError, "params of estimator kind 'x' must be a pydantic"),
        ("x", component, ScaleParams(), TypeError, "must be a pydantic BaseModel subclass"),
    ],
)
def test_malformed_registrations_are_rejected(
    kind: Any, factory: Any, params: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Registry("estimator").add(kind, factory, params)


def test_remove_forgets_a_kind() -> None:
    registry = estimators("dae", "gaussian")
    registry.remove("dae")
    registry.remove("never-registered")
    assert registry.kinds() == ["gaussian"]


def test_build_validates_params_and_passes_context() -> None:
    entry = estimators("dae").get("dae")
    assert entry.build({"scale": 2}, shape=(4,)) == {"scale": 2.0, "shape": (4,)}
    assert entry.build(None, shape=(4,)) == {"scale": 1.0, "shape": (4,)}
    assert entry.build(ScaleParams(scale=3), shape=(1,)) == {"scale": 3.0, "shape": (1,)}
    # a spec entry carries its kind next to the parameters
    assert entry.build({"kind": "dae", "scale": 5}, shape=(1,))["scale"] == 5.0


def test_build_rejects_unknown_and_invalid_fields_by_name() -> None:
    entry = estimators("dae").get("dae")
    with pytest.raises(ValidationError, match="scael"):
        entry.build({"scael": 2}, shape=(4,))
    with pytest.raises(ValidationError, match="scale"):
        entry.build({"scale": "large"}, shape=(4,))


def test_components_without_params_take_only_context() -> None:
    registry = Registry("gate")
    entry = registry.add("hard", component)
    assert entry.params is NoParams
    assert entry.build(n_modes=3) == {"n_modes": 3}
    with pytest.raises(ValidationError, match="threshold"):
        entry.build({"threshold": 0.5}, n_modes=3)
