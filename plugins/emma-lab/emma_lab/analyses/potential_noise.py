"""Potential energy versus noise (thesis figures 6.1 and 6.2): is Psi a failure measure?

Per mode, the fitted estimator scores the test split as Gaussian noise on that mode grows;
the AUROC says how well its potential (and gradient norm) tells noisy from clean samples.
The out-of-distribution check trains fresh estimators of the same kind on one class of the
clean training split and asks how well they tell the other classes apart on the test split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import torch

from emma_lab.analyses.common import (
    DEFAULT_SIGMAS,
    attention_model,
    format_sigma,
    mean_std,
    seed_count,
    sigma_levels,
    sigma_matrix,
    subsample,
    write_csv,
)
from emma_lab.experiments.comparison import SeedOutcome
from emma_lab.experiments.protocol import SeedData, noise_grid
from emma_lab.metrics.metrics import detection_auroc
from emma_lab.report.analysis_figures import plot_bands, plot_histograms
from emma_lab.report.tables import to_markdown
from emma_lab.spec import EMMA
from emma_plugins.core.plugins import get_registry
from emma_plugins.estimators import EnergyEstimator
from emma_plugins.spec import EmmaSpec

EstimatorFactory = Callable[[str, int], EnergyEstimator]
"""``factory(mode_name, seed) -> unfitted estimator`` for the out-of-distribution check."""

SCORES = ("potential", "grad_norm")


def spec_estimator_factory(spec: EmmaSpec) -> EstimatorFactory:
    """Fresh estimators as a spec declares them, from the registry; a ``seed`` parameter,
    where the kind has one, follows the experiment seed (as in experiment 1)."""
    registry = get_registry("estimator")
    modes = {mode.name: mode for mode in spec.modes}

    def make(mode_name: str, seed: int) -> EnergyEstimator:
        if mode_name not in modes:
            raise KeyError(f"the spec has no mode {mode_name!r}; modes: {', '.join(modes)}.")
        mode = modes[mode_name]
        registration = registry.get(mode.estimator.kind)
        params = mode.estimator.model_dump()
        if "seed" in registration.params.model_fields:
            params["seed"] = seed
        return cast(EnergyEstimator, registration.build(params, shape=mode.sample_shape))

    return make


@torch.no_grad()
def _estimator_scores(estimator: EnergyEstimator, x: torch.Tensor) -> dict[str, np.ndarray]:
    return {name: value.cpu().numpy() for name, value in estimator.scores(x).items()}


@dataclass
class PotentialNoiseResult:
    """``curves``: per seed, mode, score and sigma, the mean and std over test samples;
    ``detection``: AUROC of noisy versus clean per seed, mode, score and sigma;
    ``ood``: AUROC of other classes versus the trained class per seed, mode and score;
    ``ood_samples``: the per-sample scores behind ``ood`` (for figure 6.2)."""

    curves: pd.DataFrame
    detection: pd.DataFrame
    ood: pd.DataFrame
    ood_samples: pd.DataFrame


class PotentialNoiseAnalysis:
    """Figures 6.1-6.2; call it per seed (``on_seed``), then `results`, `write`, `markdown`.

    :param sigmas: noise levels of the curves (0 is always added).
    :param detect_sigmas: levels at which noisy-versus-clean AUROCs are reported.
    :param model: the trained model whose fitted estimators are swept.
    :param estimator_factory: builds the out-of-distribution estimators; by default from
        the model's own spec. ``ood=False`` skips the check.
    :param in_class: the class the out-of-distribution estimators are trained on.
    :param max_rows: test rows per seed (a seeded random subset).
    """

    name = "potential_noise"

    def __init__(
        self,
        mode_names: Sequence[str],
        *,
        sigmas: Sequence[float] = DEFAULT_SIGMAS,
        detect_sigmas: Sequence[float] = (0.5, 1.0, 2.0),
        model: str = EMMA,
        estimator_factory: EstimatorFactory | None = None,
        ood: bool = True,
        in_class: int = 1,
        max_rows: int | None = 1000,
    ) -> None:
        self.mode_names = list(mode_names)
        self.detect_sigmas = sorted({float(s) for s in detect_sigmas})
        if any(s <= 0 for s in self.detect_sigmas):
            raise ValueError(f"detect_sigmas must be > 0, got {self.detect_sigmas}.")
        self.levels = sigma_levels(sigmas, include=self.detect_sigmas)
        self.model, self.ood, self.in_class = model, ood, in_class
        self.estimator_factory, self.max_rows = estimator_factory, max_rows
        self._curves: list[dict[str, Any]] = []
        self._detection: list[dict[str, Any]] = []
        self._ood: list[dict[str, Any]] = []
        self._ood_samples: list[pd.DataFrame] = []

    # -- collection ------------------------------------------------------------------------
    def __call__(self, data: SeedData, outcome: SeedOutcome) -> None:
        model, attention = attention_model(outcome, self.model)
        estimators = cast(Sequence[EnergyEstimator], list(attention.estimators))
        test = subsample(data.clean["test"], self.max_rows, data.seed)
        n_modes, n_levels = len(self.mode_names), len(self.levels)
        for i, (mode, estimator) in enumerate(zip(self.mode_names, estimators, strict=True)):
            sweep = noise_grid(test, sigma_matrix(self.levels, n_modes, [i]), data.seed * 31 + i)
            scores = _estimator_scores(estimator, sweep.modes[i])
            for score in SCORES:
                values = scores[score].reshape(n_levels, -1)
                means, stds = values.mean(axis=1), values.std(axis=1)
                self._curves += [
                    {
                        "seed": data.seed,
                        "mode": mode,
                        "score": score,
                        "sigma": float(s),
                        "mean": float(m),
                        "std": float(d),
                    }
                    for s, m, d in zip(self.levels, means, stds, strict=True)
                ]
                for sigma in self.detect_sigmas:
                    level = int(np.flatnonzero(np.isclose(self.levels, sigma))[0])
                    self._detection.append(
                        {
                            "seed": data.seed,
                            "mode": mode,
                            "score": score,
                            "sigma": sigma,
                            "auroc": detection_auroc(values[0], values[level]),
                        }
                    )
        if self.ood:
            self._out_of_distribution(data, model)

    def _out_of_distribution(self, data: SeedData, model: Any) -> None:
        factory = self.estimator_factory
        if factory is None:
            spec = getattr(model, "spec", None)
            if spec is None:
                raise ValueError(
                    f"model {self.model!r} carries no spec to build fresh estimators from; "
                    "pass estimator_factory=... (or ood=False)."
                )
            factory = spec_estimator_factory(spec)
        train, test = data.clean["train"], subsample(data.clean["test"], self.max_rows, data.seed)
        inside_train = train.y == self.in_class
        inside_test = (test.y == self.in_class).cpu().numpy()
        if not bool(inside_train.any()):
            raise ValueError(f"no training sample of class {self.in_class} (in_class).")
        labels = np.where(inside_test, f"class {self.in_class} (trained on)", "other classes")
        for i, mode in enumerate(self.mode_names):
            x = train.modes[i][inside_train]
            estimator = factory(mode, data.seed).to(x.device).fit(x, progress=False)
            scores = _estimator_scores(estimator, test.modes[i])
            frame = pd.DataFrame({"seed": data.seed, "mode": mode, "group": labels, **scores})
            self._ood_samples.append(frame)
            for score in SCORES:
                auroc = detection_auroc(scores[score][inside_test], scores[score][~inside_test])
                self._ood.append({"seed": data.seed, "mode": mode, "score": score, "auroc": auroc})

    # -- outputs ---------------------------------------------------------------------------
    def results(self) -> PotentialNoiseResult:
        samples = (
            pd.concat(self._ood_samples, ignore_index=True)
            if self._ood_samples
            else pd.DataFrame(columns=["seed", "mode", "group", *SCORES])
        )
        return PotentialNoiseResult(
            pd.DataFrame(self._curves),
            pd.DataFrame(self._detection),
            pd.DataFrame(self._ood, columns=["seed", "mode", "score", "auroc"]),
            samples,
        )

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """CSV files and figures ``potential_vs_noise.png`` and ``potential_ood.png``."""
        out, result = Path(out_dir), self.results()
        paths = {
            "curves": write_csv(out / "potential_noise_curves.csv", result.curves),
            "detection": write_csv(out / "potential_noise_auroc.csv", result.detection),
        }
        bands = result.curves.assign(
            panel=result.curves["score"] + ": " + result.curves["mode"],
            band=2 * result.curves["std"],
            line="mean ± 2 std over samples",
        )
        paths["figure"] = plot_bands(
            bands,
            out / "potential_vs_noise.png",
            x="sigma",
            y="mean",
            spread="band",
            panel="panel",
            line="line",
            ylabel="score on the noisy mode",
            xlabel="noise sigma on the mode",
            panel_order=[f"{score}: {mode}" for score in SCORES for mode in self.mode_names],
            rows=len(SCORES),
        )
        if not result.ood.empty:
            paths["ood"] = write_csv(out / "potential_ood_auroc.csv", result.ood)
            paths["ood_figure"] = plot_histograms(
                result.ood_samples,
                out / "potential_ood.png",
                value="potential",
                group="group",
                panel="mode",
                xlabel="potential energy Ψ",
                panel_order=self.mode_names,
            )
        return paths

    def markdown(self, figure_dir: str) -> str:
        result = self.results()
        seeds = seed_count(result.curves)
        lines = [
            "## Potential energy versus noise (figures 6.1-6.2)",
            "",
            f"Each mode's fitted estimator (model `{self.model}`) scores the test split as "
            "Gaussian noise on that mode grows. AUROC of telling the noisy copy from the clean "
            f"one, mean ± std over {seeds} seeds (0.5 = no signal, 1 = perfect):",
            "",
        ]
        detection = result.detection.assign(
            column=result.detection["score"] + " σ=" + result.detection["sigma"].map(format_sigma)
        )
        lines += [_auroc_table(detection, self.mode_names), ""]
        lines += [f"![potential versus noise]({figure_dir}/potential_vs_noise.png)", ""]
        if not result.ood.empty:
            lines += [
                f"Out of distribution: fresh estimators trained on class {self.in_class} of the "
                "clean training split only; AUROC of telling the other classes from it on the "
                "test split:",
                "",
                _auroc_table(result.ood.assign(column=result.ood["score"]), self.mode_names),
                "",
                f"![potential out of distribution]({figure_dir}/potential_ood.png)",
                "",
            ]
        return "\n".join(lines)


def _auroc_table(frame: pd.DataFrame, modes: Sequence[str]) -> str:
    cells = frame.groupby(["mode", "column"], sort=False)["auroc"].agg(mean_std).unstack("column")
    cells = cells.reindex([m for m in modes if m in cells.index])
    return to_markdown(cells, "mode")
