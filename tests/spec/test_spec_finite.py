"""Spec floats must be finite: inf, -inf and NaN are refused at their location, in the
library's sections and in every built-in kind's parameters, from Python and from files."""

from __future__ import annotations

import copy
import json
import math
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
from _spec_samples import spec_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from emma_plugins.core.errors import SpecError
from emma_plugins.core.plugins import PluginHost
from emma_plugins.spec import TrainingSpec, load_spec, parse_spec

NON_FINITE = st.sampled_from([math.inf, -math.inf, math.nan])
#: Each float field is a parametrized case; hypothesis tries the non-finite values on it.
EACH = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _has_float(tp: Any) -> bool:
    if tp is float:
        return True
    return any(_has_float(arg) for arg in get_args(tp))


def _nested_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    if get_origin(tp) in (Union, types.UnionType):
        models = [a for a in get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if len(models) == 1 else None
    return None


def float_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every float field of ``model``, nested sections included, as a key path."""
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        if nested is not None and "kind" not in nested.model_fields:
            yield from float_paths(nested, (*prefix, name))
        elif _has_float(field.annotation):
            yield (*prefix, name)


TRAINING_FLOATS = sorted(float_paths(TrainingSpec))


def test_the_training_section_has_the_float_fields_we_expect() -> None:
    assert {
        ("lr",),
        ("lambda_c",),
        ("lambda_e",),
        ("anneal", "start"),
        ("anneal", "factor"),
        ("corruption", "sigma"),
        ("corruption", "clean_fraction"),
    } <= set(TRAINING_FLOATS)


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node: Any = data
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    node[path[-1]] = value
    return data


def _location(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def refused_at(data: dict[str, Any], location: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    issues = {issue.location: issue.message for issue in caught.value.issues}
    assert location in issues, issues
    assert "finite number" in issues[location]


@pytest.mark.parametrize("path", TRAINING_FLOATS, ids=".".join)
@EACH
@given(value=NON_FINITE)
def test_every_training_float_refuses_non_finite_values(
    path: tuple[str, ...], value: float
) -> None:
    refused_at(
        _set(spec_dict(training={}), ("training", *path), value), f"training.{'.'.join(path)}"
    )


#: Where a component of each family sits in a two-mode spec.
PLACES: dict[str, tuple[str | int, ...]] = {
    "estimator": ("modes", 0, "estimator"),
    "correction": ("attention", "correction"),
    "modal_energy": ("attention", "modal_energy"),
    "importance": ("attention", "importance"),
    "gate": ("attention", "gate"),
    "endogenous": ("attention", "endogenous"),
    "cross_modal": ("attention", "cross_modal"),
    "network": ("network",),
    "corruption": ("training", "corruption", "per_mode", "ip"),
}


def _kind_floats() -> list[tuple[str, str, str]]:
    host = PluginHost(autoload=False)  # the built-in kinds
    found = []
    for family in PLACES:
        for entry in host.registry(family):
            for name in sorted(float_paths(entry.params)):
                if len(name) == 1:
                    found.append((family, entry.kind, name[0]))
    return found


KIND_FLOATS = _kind_floats()


def test_built_in_kinds_with_floats_are_covered() -> None:
    kinds = {(family, kind) for family, kind, _ in KIND_FLOATS}
    assert {("estimator", "dae"), ("importance", "boltzmann"), ("network", "mlp")} <= kinds
    assert any(family == "corruption" for family, _, _ in KIND_FLOATS)


@pytest.mark.parametrize("case", KIND_FLOATS, ids=":".join)
@EACH
@given(value=NON_FINITE)
def test_every_built_in_kind_float_refuses_non_finite_values(
    case: tuple[str, str, str], value: float
) -> None:
    family, kind, field = case
    place = PLACES[family]
    data = _set(spec_dict(training={}), place, {"kind": kind, field: value})
    refused_at(data, _location((*place, field)))


@pytest.mark.parametrize(
    ("name", "text", "location"),
    [
        ("lr.yaml", "training: {lr: .inf}", "training.lr"),
        (
            "rho.yaml",
            "attention: {importance: {kind: boltzmann, rho: .nan}}",
            "attention.importance.rho",
        ),
        ("sigma.yaml", "training: {corruption: {sigma: -.inf}}", "training.corruption.sigma"),
        ("overflow.yaml", "training: {lambda_e: 1e400}", "training.lambda_e"),
    ],
)
def test_yaml_spellings_of_infinity_and_nan_are_refused(
    tmp_path: Path, name: str, text: str, location: str
) -> None:
    data = spec_dict()
    data.pop(text.split(":", 1)[0], None)
    base = json.dumps(data)[:-1]  # JSON is YAML: add the section to the flow mapping
    path = tmp_path / name
    path.write_text(f"{base}, {text}}}\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert [issue.location for issue in caught.value.issues] == [location]
    assert "finite number" in caught.value.issues[0].message


def test_json_and_toml_spellings_are_refused(tmp_path: Path) -> None:
    json_path = tmp_path / "nan.json"
    json_path.write_text(json.dumps(spec_dict(training={"lr": math.nan})))  # writes NaN
    assert "NaN" in json_path.read_text()
    with pytest.raises(SpecError, match=r"training\.lr: Input should be a finite number"):
        load_spec(json_path)
    toml_path = tmp_path / "inf.toml"
    toml_path.write_text(
        "spec_version = 1\nnetwork = 'mlp'\n"
        "[[modes]]\nname = 'a'\nwidth = 2\nestimator = {kind = 'dae', sigma = inf}\n"
        "[[modes]]\nname = 'b'\nwidth = 2\nestimator = 'dae'\n"
    )
    with pytest.raises(SpecError, match=r"modes\[0\]\.estimator\.sigma: Input should be a finite"):
        load_spec(toml_path)


def test_finite_extremes_are_still_accepted() -> None:
    spec = parse_spec(spec_dict(training={"lr": 1e300, "lambda_e": 0.0}))
    assert spec.training is not None and spec.training.lr == 1e300


def test_a_plugin_field_may_opt_in_to_infinity() -> None:
    from pydantic import ConfigDict, Field, ValidationError

    from emma_plugins.core.registry import Registration
    from emma_plugins.spec.union import kind_model

    class ClipParams(BaseModel):
        model_config = ConfigDict(extra="forbid")

        clip: float = Field(math.inf, allow_inf_nan=True)
        scale: float = 1.0

    registration = Registration("clip", lambda **_: None, ClipParams, "tests")
    model = kind_model("gate", registration)
    assert model.model_validate({"kind": "clip", "clip": math.inf}).clip == math.inf  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="finite number"):
        model.model_validate({"kind": "clip", "scale": math.inf})
