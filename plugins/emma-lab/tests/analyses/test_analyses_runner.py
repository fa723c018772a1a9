"""The analyses inside experiment 1's runner: files, figures and report sections."""

from __future__ import annotations

from _experiment_samples import small_data, tiny_experiment, tiny_spec
from emma_lab.analyses import (
    AttentionNoiseAnalysis,
    PotentialNoiseAnalysis,
    RobustnessAnalysis,
    TotalEnergyAnalysis,
    standard_analyses,
)
from emma_lab.experiments.runner import run_table_experiment

MODES = ["mean", "error", "worst"]
HEADINGS = (
    "## Potential energy versus noise",
    "## Importance and attention versus noise",
    "## Total energy as uncertainty",
    "## Robustness generalisation",
)


def test_standard_analyses_are_the_four_in_report_order() -> None:
    kinds = [type(a) for a in standard_analyses(MODES)]
    assert kinds == [
        PotentialNoiseAnalysis,
        AttentionNoiseAnalysis,
        TotalEnergyAnalysis,
        RobustnessAnalysis,
    ]


def test_report_gets_every_section_figure_and_verdict(tmp_path) -> None:
    sigmas = (0.5, 1.5, 3.0)
    analyses = standard_analyses(MODES, sigmas=sigmas, max_rows=60)
    result, paths = run_table_experiment(
        tiny_experiment(tiny_spec(evaluation={"seeds": [0, 1]})),
        small_data(),
        tmp_path,
        analyses=analyses,
    )
    report = paths["report"].read_text()
    positions = [report.index(heading) for heading in HEADINGS]
    assert positions == sorted(positions) and positions[0] > report.index("## Paired comparisons")
    for name, path in paths.items():
        assert path.exists(), name
        if path.suffix == ".png":
            assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
            if path.parent.name == "analyses":
                assert f"](analyses/{path.name})" in report
    assert {"robustness_figure", "total_energy_figure", "attention_noise_surface_figure"} <= set(
        paths
    )
    robustness = analyses[3].results()
    for comparison in [*result.comparisons, *robustness.comparisons]:
        assert comparison.sentence() in report
    for mode in MODES:
        assert f"noise on {mode}" in report


def test_analyses_can_be_switched_off(tmp_path) -> None:
    _, paths = run_table_experiment(
        tiny_experiment(),
        small_data(),
        tmp_path,
        analyses=False,
    )
    assert not (tmp_path / "analyses").exists()
    assert "## Robustness generalisation" not in paths["report"].read_text()
