"""Total energy as uncertainty (figure 6.7): ranges, consistency with the protocol's score."""

from __future__ import annotations

import pytest
from _analysis_samples import SEEDS, trained_seeds
from emma_lab.analyses import TotalEnergyAnalysis
from emma_lab.experiments.protocol import score

SIGMAS = (0.5, 1.0, 2.0, 3.0)


@pytest.fixture(scope="module")
def analysis() -> TotalEnergyAnalysis:
    collector = TotalEnergyAnalysis(["mean", "error", "worst"], sigmas=SIGMAS)
    for data, outcome in trained_seeds():
        collector(data, outcome)
    return collector


def test_rows_ranges_and_rising_energy(analysis) -> None:
    result = analysis.results()
    curves = result.curves
    assert result.metric == "f1"
    assert len(curves) == len(SEEDS) * 5
    for column in ("metric", "error_rate", "error_auroc"):
        assert curves[column].dropna().between(0, 1).all()
    energy = curves.pivot_table(index="seed", columns="sigma", values="total_energy")
    assert (energy[3.0] > energy[0.0]).all()  # the same noise on every mode raises Σ E_i
    assert len(result.summary) == len(SEEDS)
    assert result.summary.pooled_error_auroc.between(0, 1).all()
    assert result.summary.energy_metric_correlation.between(-1, 1).all()


def test_clean_metric_is_the_protocol_score(analysis) -> None:
    curves = analysis.results().curves
    for data, outcome in trained_seeds():
        clean = curves[(curves.seed == data.seed) & (curves.sigma == 0)].metric.item()
        expected = score(outcome.models["emma"], data.clean["test"], outcome.thresholds["emma"])
        assert clean == pytest.approx(expected)


def test_outputs_and_markdown(analysis, tmp_path) -> None:
    paths = analysis.write(tmp_path)
    assert paths["figure"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    text = analysis.markdown("figs")
    assert "figs/total_energy.png" in text
    for sigma in ("| 0 |", "| 0.5 |", "| 3 |"):
        assert sigma in text
    assert "pooled over every noisy level" in text
