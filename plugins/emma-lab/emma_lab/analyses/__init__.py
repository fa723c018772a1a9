"""The thesis' analyses of section 6.2-6.3 on the trained models of experiment 1.

Each analysis is a collector: pass it (or several, through `fan_out`) as ``on_seed`` to
`run_table`, then read `results()`, `write(out_dir)` CSV files and figures, and append
`markdown(figure_dir)` to the report.

* `PotentialNoiseAnalysis`: potential versus noise and out of distribution (6.1-6.2);
* `AttentionNoiseAnalysis`: importance and attention versus noise (6.3-6.6);
* `TotalEnergyAnalysis`: total energy as uncertainty (6.7);
* `RobustnessAnalysis`: robustness generalisation beyond the training noise (6.8-6.10);
* `CorruptionSweepAnalysis`: the same questions for one mode's corruption kind over its
  levels (pixel noise on an image, white noise at a falling SNR on audio).
"""

from __future__ import annotations

from collections.abc import Sequence

from emma_lab.analyses.attention_noise import AttentionNoiseAnalysis, AttentionNoiseResult
from emma_lab.analyses.common import DEFAULT_SIGMAS, Analysis, fan_out, normalised_area
from emma_lab.analyses.corruption_sweep import CorruptionSweepAnalysis, CorruptionSweepResult
from emma_lab.analyses.potential_noise import (
    EstimatorFactory,
    PotentialNoiseAnalysis,
    PotentialNoiseResult,
    spec_estimator_factory,
)
from emma_lab.analyses.robustness import RobustnessAnalysis, RobustnessResult
from emma_lab.analyses.total_energy import TotalEnergyAnalysis, TotalEnergyResult
from emma_lab.experiments.sweeps import CorruptionSweep

__all__ = [
    "DEFAULT_SIGMAS",
    "Analysis",
    "AttentionNoiseAnalysis",
    "AttentionNoiseResult",
    "CorruptionSweepAnalysis",
    "CorruptionSweepResult",
    "EstimatorFactory",
    "PotentialNoiseAnalysis",
    "PotentialNoiseResult",
    "RobustnessAnalysis",
    "RobustnessResult",
    "TotalEnergyAnalysis",
    "TotalEnergyResult",
    "fan_out",
    "normalised_area",
    "spec_estimator_factory",
    "standard_analyses",
]


def standard_analyses(
    mode_names: Sequence[str],
    *,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    max_rows: int | None = 1000,
    estimator_factory: EstimatorFactory | None = None,
    ood: bool = True,
    sweeps: Sequence[CorruptionSweep] = (),
) -> list[Analysis]:
    """The four analyses with shared settings, in report order, plus the corruption-kind
    sweeps when ``sweeps`` names any.

    ``max_rows`` caps the test rows of the per-sample sweeps (potential, attention); the
    metric sweeps (total energy, robustness, corruption kinds) use the whole test split.
    """
    kinds: list[Analysis] = [CorruptionSweepAnalysis(mode_names, sweeps)] if sweeps else []
    return [
        PotentialNoiseAnalysis(
            mode_names,
            sigmas=sigmas,
            max_rows=max_rows,
            estimator_factory=estimator_factory,
            ood=ood,
        ),
        AttentionNoiseAnalysis(mode_names, sigmas=sigmas, max_rows=max_rows),
        TotalEnergyAnalysis(mode_names, sigmas=sigmas),
        RobustnessAnalysis(mode_names, sigmas=sigmas),
        *kinds,
    ]
