"""``emma run`` end to end through the CLI on a tiny spec of the bundled breast-cancer data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from emma_plugins import hookimpl
from emma_plugins.cli import main
from emma_plugins.core.plugins import plugin_host, reset_plugins
from emma_plugins.sources import MultiModalData, load_breast_cancer

SPEC = {
    "spec_version": 1,
    "modes": [
        {"name": name, "width": 10, "estimator": {"kind": "dae", "hidden": 4, "epochs": 2}}
        for name in ("mean", "error", "worst")
    ],
    "attention": {"importance": {"kind": "boltzmann", "rho": 0.01}},
    "network": {"kind": "mlp", "hidden": [8]},
    "out_features": 1,
    "data": {"dataset": {"kind": "breast_cancer"}},
    "training": {"base_epochs": 2, "epochs": 2},
    "evaluation": {
        "seeds": [0, 1, 2],
        "noise_draws": 1,
        "analyses": False,
        "baselines": [{"name": "mean_only", "network": {"reads": [0]}}],
    },
}


def test_run_writes_the_report_and_prints_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    out = tmp_path / "out"
    assert main(["run", str(spec), "--out", str(out), "--seeds", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"report:  {out / 'report.md'}" in printed
    results = json.loads((out / "results.json").read_text())
    assert sorted({row["seed"] for row in results["scores"]}) == [0, 1]  # --seeds 2
    verdicts = {"win", "tie", "lose", "too_few_seeds"}  # fewer than 3 seeds: no verdict
    assert {c["verdict"] for c in results["comparisons"]} <= verdicts
    assert (out / "table.png").exists() and (out / "spec.json").exists()
    assert not (out / "analyses").exists()  # evaluation.analyses: false
    assert {"mean_only"} <= {row["model"] for row in results["scores"]}


def test_run_on_the_cpu_by_option(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, "training": {**SPEC["training"], "device": "auto"}}))
    out = tmp_path / "out"
    argv = ["run", str(spec), "--out", str(out), "--seeds", "1", "--device", "cpu"]
    assert main([*argv, "--no-progress"]) == 0
    assert json.loads((out / "spec.json").read_text())["training"]["device"] == "cpu"
    assert sorted(
        {row["seed"] for row in json.loads((out / "results.json").read_text())["scores"]}
    ) == [0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize(("device", "says"), [("cuda", "CUDA is not available"), ("tpu", "tpu")])
def test_run_on_a_missing_device_fails_in_one_line_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], device: str, says: str
) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    out = tmp_path / "out"
    assert main(["run", str(spec), "--out", str(out), "--device", device]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and says in err
    assert not out.exists()


def test_run_without_a_data_section_says_what_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "nodata.yaml"
    spec.write_text(yaml.safe_dump({k: v for k, v in SPEC.items() if k != "data"}))
    assert main(["run", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert "no data section" in capsys.readouterr().err


def test_run_rejects_a_bad_variant_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {
        **SPEC,
        "evaluation": {
            **SPEC["evaluation"],
            "variants": [{"name": "oops", "attention": {"gate": {"kind": "idnetity"}}}],
        },
    }
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(bad))
    assert main(["run", str(spec), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    # refused while the spec is loaded, at the variant's key, as `emma validate` does
    assert "evaluation.variants[0].attention.gate" in err and "identity" in err
    assert not (tmp_path / "o").exists()


def test_run_refuses_outputs_that_do_not_fit_the_task_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data set from a plugin declares no task, so `validate` cannot know; the run checks
    right after loading, before anything trains or is written."""

    def binary_table() -> MultiModalData:
        data = load_breast_cancer()
        return data.subset(list(range(120)))

    class Plugin:
        @hookimpl
        def register_datasets(self, register):  # type: ignore[no-untyped-def]
            register("plugin_binary", binary_table)

    reset_plugins()
    try:
        plugin_host().register(Plugin(), "emma-test", "binary")
        spec = tmp_path / "two.yaml"
        two = {**SPEC, "out_features": 2, "data": {"dataset": {"kind": "plugin_binary"}}}
        spec.write_text(yaml.safe_dump(two))
        assert main(["run", str(spec), "--out", str(tmp_path / "o")]) == 2
    finally:
        reset_plugins()
    err = capsys.readouterr().err
    assert "out_features: data set 'plugin_binary' is a binary task" in err
    assert "set out_features: 1, not 2" in err
    assert not list((tmp_path / "o").glob("checkpoints/*"))
