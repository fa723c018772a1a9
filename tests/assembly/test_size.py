"""The model's size is counted on the meta device before anything is allocated, and a model
above the limit is refused by `build`, checkpoint loading, `emma validate` and `emma build`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from _spec_samples import HTRU2_YAML, SumNet, spec_dict
from hypothesis import given, settings
from hypothesis import strategies as st

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.checkpoint import SPEC_FILE, load, save
from emma_plugins.assembly.size import (
    DEFAULT_MAX_PARAMETERS,
    ENV_MAX_PARAMETERS,
    estimate_parameters,
    max_parameters,
    parameter_issues,
)
from emma_plugins.cli import main
from emma_plugins.core.errors import SpecError
from emma_plugins.spec import load_spec, parse_spec

HUGE = spec_dict(network={"kind": "mlp", "hidden": [1_000_000_000]})


def actual_size(model: torch.nn.Module) -> int:
    return sum(t.numel() for t in (*model.parameters(), *model.buffers()))


@pytest.fixture(autouse=True)
def _no_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MAX_PARAMETERS, raising=False)


def test_the_estimate_is_exact_for_the_htru2_model() -> None:
    spec = load_spec(HTRU2_YAML)
    count = estimate_parameters(spec)
    assert count is not None
    assert count.total == actual_size(build(spec)) == 674
    assert count.parts["network"] == 113
    assert set(count.parts) >= {"modes[0].estimator", "modes[1].estimator", "attention.gate"}


@settings(max_examples=15, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 40), min_size=1, max_size=3),
    dae=st.integers(1, 20),
    widths=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    out=st.integers(1, 4),
    network=st.sampled_from(["mlp", "late_fusion", "encoder_fusion"]),
    attention=st.booleans(),
)
def test_the_estimate_matches_what_build_allocates(
    hidden: list[int],
    dae: int,
    widths: tuple[int, int],
    out: int,
    network: str,
    attention: bool,
) -> None:
    params: dict[str, Any] = {"kind": network}
    params["head" if network == "encoder_fusion" else "hidden"] = hidden
    data = spec_dict(
        modes=[
            {"name": "a", "width": widths[0], "estimator": {"kind": "dae", "hidden": dae}},
            {"name": "b", "width": widths[1], "estimator": {"kind": "dae", "hidden": dae}},
        ],
        network=params,
        out_features=out,
        attention={"enabled": attention},
    )
    spec = parse_spec(data)
    count = estimate_parameters(spec)
    assert count is not None
    assert count.total == actual_size(build(spec))


def test_measuring_draws_nothing_from_the_global_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch.manual_seed(0)
    measured = build(HTRU2_YAML).state_dict()
    monkeypatch.setattr("emma_plugins.assembly.builder.check_parameters", lambda *a, **k: None)
    torch.manual_seed(0)
    unmeasured = build(HTRU2_YAML).state_dict()
    for key, value in measured.items():
        torch.testing.assert_close(value, unmeasured[key], rtol=0, atol=0, equal_nan=True)


def test_a_billion_hidden_units_are_refused_before_allocating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_allocation(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was built")

    monkeypatch.setattr("emma_plugins.assembly.builder._network_from_spec", no_allocation)
    with pytest.raises(SpecError) as caught:
        build(HUGE)
    [issue] = caught.value.issues
    assert issue.location == "network"
    assert "the model would have 10,000,000,502 parameters and buffers" in issue.message
    assert "(network alone: 10,000,000,001)" in issue.message
    assert "above the limit of 100,000,000" in issue.message
    assert "--max-parameters N" in issue.message and ENV_MAX_PARAMETERS in issue.message
    assert "build(..., max_parameters=N)" in issue.message


@settings(max_examples=10, deadline=None)
@given(limit=st.integers(1, 1000))
def test_the_limit_is_inclusive_and_comes_from_the_keyword(limit: int) -> None:
    spec = load_spec(HTRU2_YAML)
    issues = parameter_issues(spec, limit)
    assert bool(issues) == (limit < 674)
    if issues:
        with pytest.raises(SpecError, match=f"above the limit of {limit:,}"):
            build(spec, max_parameters=limit)


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert max_parameters() == DEFAULT_MAX_PARAMETERS
    monkeypatch.setenv(ENV_MAX_PARAMETERS, "200")
    assert max_parameters() == 200 and max_parameters(300) == 300
    with pytest.raises(SpecError, match="above the limit of 200"):
        build(HTRU2_YAML)
    monkeypatch.setenv(ENV_MAX_PARAMETERS, "9_000_000_000")
    assert max_parameters() == 9_000_000_000
    for bad in ("abc", "0", "-5", "1.5"):
        monkeypatch.setenv(ENV_MAX_PARAMETERS, bad)
        with pytest.raises(SpecError, match=f"{ENV_MAX_PARAMETERS}='{bad}' is not a positive"):
            max_parameters()


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_the_keyword_must_be_a_positive_integer(bad: Any) -> None:
    with pytest.raises(SpecError, match="max_parameters must be a positive integer"):
        max_parameters(bad)


def test_a_network_passed_in_is_not_counted() -> None:
    data = spec_dict()
    data.pop("network")
    spec = parse_spec(data)
    count = estimate_parameters(spec, network_given=True)
    assert count is not None and "network" not in count.parts
    build(spec, network=SumNet(), max_parameters=count.total)


def test_loading_a_checkpoint_checks_the_size_first(tmp_path: Path) -> None:
    save(build(HTRU2_YAML), tmp_path / "ckpt")
    assert actual_size(load(tmp_path / "ckpt", max_parameters=674)) == 674
    with pytest.raises(SpecError, match="above the limit of 673"):
        load(tmp_path / "ckpt", max_parameters=673)


def test_a_checkpoint_whose_spec_is_deeply_nested_is_refused(tmp_path: Path) -> None:
    from emma_plugins.core.errors import CheckpointError

    save(build(HTRU2_YAML), tmp_path / "ckpt")
    spec_path = tmp_path / "ckpt" / SPEC_FILE
    deep = "[" * 100_000 + "]" * 100_000
    spec_path.write_text(spec_path.read_text()[:-2] + f', "x": {deep}}}\n')
    manifest = tmp_path / "ckpt" / "checkpoint.json"
    import hashlib

    entry = json.loads(manifest.read_text())
    data = spec_path.read_bytes()
    entry["spec"].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    manifest.write_text(json.dumps(entry))
    with pytest.raises(CheckpointError, match="nested more than 64 levels"):
        load(tmp_path / "ckpt")


# -- the commands ----------------------------------------------------------------------------
def write_huge(tmp_path: Path) -> Path:
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(HUGE))
    return path


def test_validate_reports_the_size_and_exits_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_huge(tmp_path)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: model too large" in err
    assert "network: the model would have 10,000,000,502 parameters" in err
    assert main(["validate", "--max-parameters", "10000000502", str(path)]) == 0


def test_build_refuses_with_a_message_and_the_flag_raises_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_huge(tmp_path)
    assert main(["build", str(path)]) == 2
    assert "above the limit of 100,000,000" in capsys.readouterr().err
    assert main(["build", "--max-parameters", "673", str(HTRU2_YAML)]) == 2
    assert "above the limit of 673" in capsys.readouterr().err
    monkeypatch.setenv(ENV_MAX_PARAMETERS, "673")
    assert main(["validate", str(HTRU2_YAML)]) == 2
    assert main(["validate", "--max-parameters", "674", str(HTRU2_YAML)]) == 0


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_the_flag_takes_a_positive_integer(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["validate", "--max-parameters", bad, str(HTRU2_YAML)])
    assert exited.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err
