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


def test_grid_section_defaults_to_the_thesis_grid() -> None:
    from emma_plugins.spec.sections import GridSpec

    grid = parse_spec(spec(evaluation={"grid": {}})).evaluation
    assert grid is not None and isinstance(grid.grid, GridSpec)
    assert grid.grid.rho == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert len(grid.grid.rho) * len(grid.grid.lambda_e) * len(grid.grid.lambda_c) == 125
    assert (grid.grid.top, grid.grid.workers) == (5, 2)
    assert grid.grid.selection_seed not in grid.grid.rerun_seeds


@pytest.mark.parametrize(
    ("grid", "location"),
    [
        ({"rho": [0.0]}, "evaluation.grid.rho[0]"),
        ({"lambda_e": [-1e-3]}, "evaluation.grid.lambda_e[0]"),
        ({"lambda_c": [1e-3, 1e-3]}, "evaluation.grid.lambda_c"),
        ({"rho": [1e-3], "lambda_e": [0], "lambda_c": [0], "top": 2}, "evaluation.grid.top"),
        ({"selection_seed": 3}, "evaluation.grid.selection_seed"),
        ({"workers": 0}, "evaluation.grid.workers"),
        ({"rerun_seeds": [1]}, "evaluation.grid.rerun_seeds"),
    ],
)
def test_grid_errors_are_located(grid: dict[str, Any], location: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec(evaluation={"grid": grid}))
    assert [issue.location for issue in caught.value.issues] == [location]


def test_per_mode_corruptions_and_sweeps_validate_through_the_registry() -> None:
    parsed = parse_spec(
        spec(
            training={"corruption": {"per_mode": {"ip": {"kind": "pixel_noise", "sigma": 1}}}},
            evaluation={
                "missing_modes": True,
                "sweeps": [
                    {
                        "mode": "dm_snr",
                        "corruption": "white_noise",
                        "param": "snr_db",
                        "levels": [20, 0, -10],
                    }
                ],
            },
        )
    )
    assert parsed.training is not None and parsed.evaluation is not None
    chosen = parsed.training.corruption.per_mode["ip"]
    assert (chosen.kind, chosen.params()) == ("pixel_noise", {"sigma": 1.0})
    assert parsed.training.corruption.sigma == 0.5  # the fallback of the other modes
    assert parsed.evaluation.missing_modes and parsed.evaluation.sweeps[0].levels == [20, 0, -10]
    defaults = parse_spec(spec(training={}, evaluation={}))
    assert defaults.training is not None and defaults.training.corruption.per_mode == {}
    assert defaults.evaluation is not None and not defaults.evaluation.missing_modes


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
        (
            {
                "evaluation": {
                    "sweeps": [
                        {"mode": "ip", "corruption": "white_noise", "param": "sigma", "levels": [1]}
                    ]
                }
            },
            "evaluation.sweeps[0].param",
            "choose one of snr_db",
        ),
        (
            {
                "evaluation": {
                    "sweeps": [
                        {"mode": "ip", "corruption": "gaussian", "param": "sigma", "levels": [-1]}
                    ]
                }
            },
            "evaluation.sweeps[0].levels[0]",
            "sigma=-1",
        ),
        (
            {
                "evaluation": {
                    "sweeps": [
                        {"mode": "video", "corruption": "gaussian", "param": "sigma", "levels": [1]}
                    ]
                }
            },
            "evaluation.sweeps[0].mode",
            "no mode 'video'",
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
