"""The data and training sections: typed, optional, closed to unknown keys."""

from __future__ import annotations

from typing import Any

import pytest

from emma_plugins.core.errors import SpecError
from emma_plugins.spec import DataSpec, TrainingSpec, parse_spec


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
    parsed = parse_spec(spec(data={"dataset": "breast_cancer"}, training={}))
    assert isinstance(parsed.data, DataSpec) and parsed.data.dataset.kind == "breast_cancer"
    assert isinstance(parsed.training, TrainingSpec) and parsed.training.epochs == 30


@pytest.mark.parametrize(
    ("sections", "location"),
    [
        ({"training": {"epoch": 3}}, "training.epoch"),
        ({"training": {"lr": 0}}, "training.lr"),
        ({"data": {"dataset": {"kind": "htru3"}}}, "data.dataset"),
        ({"data": {"dataset": "breast_cancer", "data_dir": "../x"}}, "data.data_dir"),
    ],
)
def test_section_errors_are_located(sections: dict[str, Any], location: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec(**sections))
    assert [issue.location for issue in caught.value.issues] == [location]


def test_per_mode_corruptions_validate_through_the_registry() -> None:
    parsed = parse_spec(
        spec(
            training={"corruption": {"per_mode": {"ip": {"kind": "pixel_noise", "sigma": 1}}}},
        )
    )
    assert parsed.training is not None
    chosen = parsed.training.corruption.per_mode["ip"]
    assert (chosen.kind, chosen.params()) == ("pixel_noise", {"sigma": 1.0})
    assert parsed.training.corruption.sigma == 0.5  # the fallback of the other modes
    defaults = parse_spec(spec(training={}))
    assert defaults.training is not None and defaults.training.corruption.per_mode == {}


@pytest.mark.parametrize(
    ("sections", "location", "message"),
    [
        (
            {"training": {"corruption": {"per_mode": {"ip": {"kind": "pixel_nosie"}}}}},
            "training.corruption.per_mode.ip",
            "pixel_noise",
        ),
        (
            {"training": {"corruption": {"per_mode": {"image": "white_noise"}}}},
            "training.corruption.per_mode.image",
            "no mode 'image'; the modes are ip, dm_snr",
        ),
    ],
)
def test_corruption_errors_are_located(
    sections: dict[str, Any], location: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec(**sections))
    assert [issue.location for issue in caught.value.issues] == [location]
    assert message in str(caught.value)
