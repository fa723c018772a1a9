"""The data, training and evaluation sections: typed, optional, closed to unknown keys."""

from __future__ import annotations

from typing import Any

import pytest

from emma_plugins.errors import SpecError
from emma_plugins.spec import DataSpec, EvaluationSpec, TrainingSpec, parse_spec


def spec(**sections: Any) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "modes": [
            {"name": "ip", "width": 4, "estimator": "dae"},
            {"name": "dm_snr", "width": 4, "estimator": "dae"},
        ],
        "network": "mlp",
        **sections,
    }


def test_sections_default_to_none_and_fill_defaults_when_given() -> None:
    assert parse_spec(spec()).data is None
    parsed = parse_spec(spec(data={"dataset": "htru2"}, training={}, evaluation={}))
    assert isinstance(parsed.data, DataSpec) and parsed.data.dataset.kind == "htru2"
    assert isinstance(parsed.training, TrainingSpec) and parsed.training.epochs == 30
    assert isinstance(parsed.evaluation, EvaluationSpec) and parsed.evaluation.seeds == list(
        range(10)
    )


@pytest.mark.parametrize(
    ("sections", "location"),
    [
        ({"training": {"epoch": 3}}, "training.epoch"),
        ({"training": {"lr": 0}}, "training.lr"),
        ({"evaluation": {"seeds": []}}, "evaluation.seeds"),
        ({"data": {"dataset": {"kind": "htru3"}}}, "data.dataset"),
        ({"data": {"dataset": "htru2", "data_dir": "../x"}}, "data.data_dir"),
    ],
)
def test_section_errors_are_located(sections: dict[str, Any], location: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec(**sections))
    assert [issue.location for issue in caught.value.issues] == [location]
