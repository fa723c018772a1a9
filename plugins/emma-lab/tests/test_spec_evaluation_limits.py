"""Hostile input in the ``evaluation`` section: names that would become paths, seeds that
repeat or overflow, caps, and non-finite numbers all end in a located `SpecError`, and in
exit status 2 from ``emma validate``."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from emma_lab.spec import MAX_NOISE_DRAWS, MAX_SEEDS, MAX_WORKERS, SEED_LIMIT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emma_plugins.cli import main
from emma_plugins.core.errors import SpecError
from emma_plugins.spec import parse_spec

FAST = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_.-]*\Z")


def spec(**evaluation: Any) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "modes": [
            {"name": "ip", "width": 4, "estimator": "dae"},
            {"name": "dm_snr", "width": 4, "estimator": "dae"},
        ],
        "network": "mlp",
        "evaluation": evaluation,
    }


def issues_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    return {issue.location: issue.message for issue in caught.value.issues}


# -- names that become paths ------------------------------------------------------------------
PATHLIKE = st.one_of(
    st.sampled_from(
        ["x/../../../ESCAPED", "..", ".", ".hidden", "/etc", "a\\b", "a/b", "~", "", "ip\n"]
    ),
    st.text(min_size=1, max_size=12).filter(lambda name: not NAME.match(name)),
)


@FAST
@given(name=PATHLIKE, which=st.sampled_from(["variants", "baselines"]))
def test_names_that_are_not_plain_names_are_refused(name: str, which: str) -> None:
    issues = issues_of(spec(**{which: [{"name": name}]}))
    location = f"evaluation.{which}[0].name"
    assert location in issues, issues
    assert name == "" or "must start with a letter or _" in issues[location]


@FAST
@given(name=st.from_regex(NAME, fullmatch=True).filter(lambda n: len(n) <= 100))
def test_plain_names_are_accepted(name: str) -> None:
    if name in ("early_fusion", "noise_augmentation", "emma"):
        return
    parsed = parse_spec(spec(variants=[{"name": name}], baselines=[{"name": name}]))
    assert parsed.evaluation.variants[0].name == name  # type: ignore[attr-defined]


def test_over_long_names_are_refused() -> None:
    issues = issues_of(spec(variants=[{"name": "v" * 101}]))
    assert "at most 100" in issues["evaluation.variants[0].name"]


# -- seeds ------------------------------------------------------------------------------------
@FAST
@given(
    seeds=st.lists(st.integers(0, SEED_LIMIT - 1), min_size=1, max_size=10, unique=True),
    data=st.data(),
)
def test_a_repeated_seed_is_refused(seeds: list[int], data: st.DataObject) -> None:
    repeated = data.draw(st.sampled_from(seeds))
    issues = issues_of(spec(seeds=[*seeds, repeated]))
    assert f"repeated: {repeated}" in issues["evaluation.seeds"]


@FAST
@given(seed=st.one_of(st.integers(max_value=-1), st.integers(min_value=SEED_LIMIT)))
def test_seeds_outside_32_bits_are_refused_everywhere(seed: int) -> None:
    issues = issues_of(spec(seeds=[seed]))
    assert "evaluation.seeds[0]" in issues
    grid = {"rerun_seeds": [seed, 1], "selection_seed": seed}
    issues = issues_of(spec(grid=grid))
    assert {"evaluation.grid.rerun_seeds[0]", "evaluation.grid.selection_seed"} <= set(issues)
    with pytest.raises(SpecError, match=r"training\.seed"):
        parse_spec({**spec(), "training": {"seed": seed}})


def test_the_largest_seeds_are_accepted() -> None:
    parsed = parse_spec(spec(seeds=[0, SEED_LIMIT - 1]))
    assert parsed.evaluation.seeds == [0, SEED_LIMIT - 1]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("evaluation", "location", "fragment"),
    [
        ({"seeds": list(range(MAX_SEEDS + 1))}, "evaluation.seeds", f"at most {MAX_SEEDS} items"),
        (
            {"grid": {"rerun_seeds": list(range(MAX_SEEDS + 1))}},
            "evaluation.grid.rerun_seeds",
            f"at most {MAX_SEEDS} items",
        ),
        ({"noise_draws": MAX_NOISE_DRAWS + 1}, "evaluation.noise_draws", "less than or equal"),
        ({"grid": {"workers": MAX_WORKERS + 1}}, "evaluation.grid.workers", "less than or equal"),
    ],
)
def test_counts_are_capped(evaluation: dict[str, Any], location: str, fragment: str) -> None:
    issues = issues_of(spec(**evaluation))
    assert fragment in issues[location]


def test_counts_at_the_caps_are_accepted() -> None:
    parse_spec(
        spec(
            seeds=list(range(MAX_SEEDS)),
            noise_draws=MAX_NOISE_DRAWS,
            grid={"workers": MAX_WORKERS, "selection_seed": MAX_SEEDS},
        )
    )


# -- non-finite numbers -----------------------------------------------------------------------
NON_FINITE = st.sampled_from([math.inf, -math.inf, math.nan])
PLACES = [
    ({"grid": {"rho": ["X"]}}, "evaluation.grid.rho[0]"),
    ({"grid": {"lambda_e": ["X"]}}, "evaluation.grid.lambda_e[0]"),
    ({"grid": {"lambda_c": [0.0, "X"]}}, "evaluation.grid.lambda_c[1]"),
    (
        {"sweeps": [{"mode": "ip", "corruption": "gaussian", "param": "sigma", "levels": ["X"]}]},
        "evaluation.sweeps[0].levels[0]",
    ),
    ({"variants": [{"name": "v", "training": {"lr": "X"}}]}, "evaluation.variants[0].training.lr"),
    (
        {"variants": [{"name": "v", "attention": {"importance": {"rho": "X"}}}]},
        "evaluation.variants[0].attention.importance.rho",
    ),
    (
        {"baselines": [{"name": "b", "network": {"dropout": "X"}}]},
        "evaluation.baselines[0].network.dropout",
    ),
]


def _put(value: Any, template: Any) -> Any:
    if template == "X":
        return value
    if isinstance(template, dict):
        return {key: _put(value, item) for key, item in template.items()}
    if isinstance(template, list):
        return [_put(value, item) for item in template]
    return template


@pytest.mark.parametrize(("evaluation", "location"), PLACES, ids=[p[1] for p in PLACES])
@settings(max_examples=6, deadline=None)
@given(value=NON_FINITE)
def test_non_finite_numbers_are_refused_in_the_section(
    evaluation: dict[str, Any], location: str, value: float
) -> None:
    issues = issues_of(spec(**_put(value, evaluation)))
    assert location in issues, issues
    assert "finite number" in issues[location]


# -- checks that need no data -----------------------------------------------------------------
def test_a_baseline_reading_a_mode_that_does_not_exist_is_refused() -> None:
    issues = issues_of(spec(baselines=[{"name": "b", "network": {"reads": [0, 5]}}]))
    assert (
        "reads names mode indices [5], but there are 2 modes"
        in (issues["evaluation.baselines[0].network"])
    )


@pytest.mark.parametrize(
    ("dataset", "out_features", "fragment"),
    [
        ("htru2", 2, "'htru2' is a binary task"),
        ("mfeat", 1, "'mfeat' has 10 classes"),
        ("fsdd", 2, "'fsdd' has 10 classes"),
        ("av_digits", 9, "'av_digits' has 10 classes"),
    ],
)
def test_out_features_must_fit_the_bundled_data_set(
    dataset: str, out_features: int, fragment: str
) -> None:
    data = {**spec(), "out_features": out_features, "data": {"dataset": dataset}}
    issues = issues_of(data)
    assert fragment in issues["out_features"]


def test_emma_validate_exits_two_on_each_hostile_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        "escape.json": spec(variants=[{"name": "x/../../../ESCAPED"}]),
        "seeds.json": spec(seeds=[0, 0]),
        "draws.json": spec(noise_draws=10**9),
        "reads.json": spec(baselines=[{"name": "b", "network": {"reads": [7]}}]),
    }
    paths = []
    for name, data in cases.items():
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(data))
    assert main(["validate", *map(str, paths)]) == 2
    err = capsys.readouterr().err
    assert err.count("invalid spec (1 problem)") == len(cases)
    assert "evaluation.variants[0].name: variant name 'x/../../../ESCAPED'" in err
    assert "evaluation.seeds: seeds must be unique; repeated: 0" in err
    assert "Traceback" not in err
