"""The lab's ``evaluation`` spec section, registered through ``register_spec_sections``."""

from __future__ import annotations

from typing import Any

import pytest

from emma_lab.spec import EvaluationSpec, GridSpec, evaluation_of
from emma_plugins.core.errors import SpecError
from emma_plugins.spec import parse_spec


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


def test_the_section_is_optional_and_fills_its_defaults() -> None:
    assert evaluation_of(parse_spec(spec())) == EvaluationSpec()
    parsed = parse_spec(spec(evaluation={}))
    assert isinstance(evaluation_of(parsed), EvaluationSpec)
    assert evaluation_of(parsed).seeds == list(range(10))


def test_section_errors_are_located() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec(evaluation={"seeds": []}))
    assert [issue.location for issue in caught.value.issues] == ["evaluation.seeds"]


def test_grid_section_defaults_to_the_thesis_grid() -> None:
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


def test_sweeps_validate_through_the_corruption_registry() -> None:
    parsed = evaluation_of(
        parse_spec(
            spec(
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
    )
    assert parsed.missing_modes and parsed.sweeps[0].levels == [20, 0, -10]
    assert not evaluation_of(parse_spec(spec(evaluation={}))).missing_modes


@pytest.mark.parametrize(
    ("sections", "location", "message"),
    [
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
