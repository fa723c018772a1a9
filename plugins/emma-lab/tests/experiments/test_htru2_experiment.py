"""The HTRU2 reproduction spec, shortened, on the real data (CI sets EMMA_DATA_DIR)."""

from __future__ import annotations

from pathlib import Path

from emma_lab.experiments.comparison import Experiment
from emma_lab.experiments.runner import run_table_experiment
from shared_data import shared_data_dir

from emma_plugins.deploy.data import load_spec_data
from emma_plugins.spec import load_spec, parse_spec

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "htru2-reproduction.yaml"


def test_short_htru2_run_reproduces_the_protocol(tmp_path: Path) -> None:
    data_dir = shared_data_dir("htru2", "HTRU_2.csv")
    full = load_spec(EXAMPLE)
    raw = full.to_dict()
    for mode in raw["modes"]:
        mode["estimator"]["epochs"] = 2
    raw["training"] |= {"base_epochs": 1, "epochs": 1}
    raw["evaluation"] |= {"seeds": [0], "noise_draws": 1}
    spec = parse_spec(raw)
    data = load_spec_data(spec, data_dir)
    assert len(data) == 17_898 and list(spec.mode_names) == ["ip", "dm_snr"]
    experiment = Experiment.from_spec(spec, progress=False)
    result, paths = run_table_experiment(experiment, data, tmp_path, analyses=False)
    summary = result.summary()
    assert set(summary.condition) == {"clean", "ip_noisy", "dm_snr_noisy"}
    clean_base = summary[
        (summary.model == "early_fusion")
        & (summary.condition == "clean")
        & (summary.evaluation == "full_test")
    ]["mean"].item()
    assert 0.5 < clean_base <= 1.0  # even one epoch separates pulsars well above chance
    assert "ip_noisy" in paths["report"].read_text()
