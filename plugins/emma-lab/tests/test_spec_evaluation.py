"""The lab's ``evaluation`` spec section, registered through ``register_spec_sections``."""

from __future__ import annotations

from typing import Any

import pytest
from emma_lab.spec import DEFAULT_SEEDS, EvaluationSpec, GridSpec, evaluation_of

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


def _variant(**fields: Any) -> dict[str, Any]:
    return spec(evaluation={"variants": [{"name": "v", **fields}]})


@pytest.mark.parametrize(
    ("fields", "location", "message"),
    [
        (
            {"training": {"epochs": -5}},
            "evaluation.variants[0].training.epochs",
            "greater than or equal to 0",
        ),
        ({"training": {"lr": "abc"}}, "evaluation.variants[0].training.lr", "number"),
        ({"training": {"lr": 0}}, "evaluation.variants[0].training.lr", "greater than 0"),
        ({"training": {"epoch": 3}}, "evaluation.variants[0].training.epoch", "'epochs'"),
        # shared by every model of a seed, so a variant cannot change it
        ({"training": {"base_epochs": 3}}, "evaluation.variants[0].training.base_epochs", "lr"),
        (
            {"training": {"anneal": {"factor": 1}}},
            "evaluation.variants[0].training.anneal.factor",
            "greater than 1",
        ),
        (
            {"attention": {"gate": {"kind": "idnetity"}}},
            "evaluation.variants[0].attention.gate",
            "identity",
        ),
        (
            {"attention": {"importance": {"rho": -1}}},
            "evaluation.variants[0].attention.importance.rho",
            "",
        ),
        (
            {"attention": {"gate": {"slope": 1}}},
            "evaluation.variants[0].attention.gate.slope",
            "slope",
        ),
        (
            {"attention": {"slot": {"kind": "x"}}},
            "evaluation.variants[0].attention.slot",
            "unknown key",
        ),
    ],
)
def test_variants_are_validated_as_the_run_uses_them(
    fields: dict[str, Any], location: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(_variant(**fields))
    assert [issue.location for issue in caught.value.issues] == [location]
    assert message in caught.value.issues[0].message


def test_baselines_are_validated_as_the_run_uses_them() -> None:
    bad = spec(evaluation={"baselines": [{"name": "b", "network": {"hidden": [-1]}}]})
    with pytest.raises(SpecError) as caught:
        parse_spec(bad)
    assert [issue.location for issue in caught.value.issues] == [
        "evaluation.baselines[0].network.hidden[0]"
    ]
    unknown = spec(evaluation={"baselines": [{"name": "b", "network": {"kind": "mpl"}}]})
    with pytest.raises(SpecError) as caught:
        parse_spec(unknown)
    assert [issue.location for issue in caught.value.issues] == ["evaluation.baselines[0].network"]


def test_a_variant_is_the_spec_with_its_overrides() -> None:
    parsed = parse_spec(
        _variant(
            attention={"gate": "identity", "importance": {"rho": 0.5}},
            training={"lambda_e": 0, "anneal": {"factor": 2}, "patience": 3},
        )
    )
    variant = evaluation_of(parsed).variants[0].spec_of(parsed)
    assert variant.attention.enabled and variant.attention.gate.kind == "identity"
    # parameters alone update a stage; its kind and other parameters stay
    assert variant.attention.importance.kind == parsed.attention.importance.kind
    assert variant.attention.importance.rho == 0.5
    training = variant.resolved_training
    assert (training.lambda_e, training.patience, training.epochs) == (0, 3, 30)
    assert training.anneal is not None and (training.anneal.start, training.anneal.factor) == (
        1e-6,
        2.0,
    )
    # the spec itself is unchanged, and reads back with the same variant
    assert parsed.attention.gate.kind == "shared_tanh" and parsed.training is None
    assert parse_spec(parsed.to_dict()).to_dict() == parsed.to_dict()
    assert parsed.to_dict()["evaluation"]["variants"][0]["training"] == {
        "lambda_e": 0.0,
        "anneal": {"factor": 2.0},
        "patience": 3,
    }


def test_a_baseline_is_the_bare_spec_with_its_network_changes() -> None:
    parsed = parse_spec(spec(evaluation={"baselines": [{"name": "b", "network": {"reads": [0]}}]}))
    baseline = evaluation_of(parsed).baselines[0].spec_of(parsed)
    assert not baseline.attention.enabled
    assert baseline.network is not None and baseline.network.kind == parsed.network.kind
    assert baseline.network.reads == [0]


def test_seed_defaults_are_shared() -> None:
    evaluation = EvaluationSpec()
    assert evaluation.seeds == list(DEFAULT_SEEDS) == GridSpec().rerun_seeds
