"""A seed's models with EMMA train stacked by default, with the same scores as one at a time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _small_run import SPEC as SMALL
from emma_lab.experiments.runner import run_spec

import emma_plugins.training.stacked as stacked
from emma_plugins.spec import parse_spec

SPEC = {
    **SMALL,
    "training": {**SMALL["training"], "epochs": 3},
    "evaluation": {
        "seeds": [0, 1],
        "noise_draws": 1,
        "analyses": False,
        "variants": [
            {"name": "hot", "attention": {"importance": {"kind": "boltzmann", "rho": 1.0}}},
            {"name": "no_energy", "training": {"lambda_e": 0.0}},
        ],
    },
}


def test_stacked_and_one_at_a_time_runs_score_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: list[int] = []
    original = stacked.fit_stacked_emma

    def counted(models, *args, **kwargs):  # type: ignore[no-untyped-def]
        groups.append(len(models))
        return original(models, *args, **kwargs)

    monkeypatch.setattr(stacked, "fit_stacked_emma", counted)
    spec = parse_spec(SPEC)
    run_spec(spec, tmp_path / "stacked", progress=False)
    assert groups == [3, 3]  # emma and its two variants, per seed
    run_spec(spec, tmp_path / "alone", progress=False, stack=False)
    assert groups == [3, 3]
    a = pd.read_csv(tmp_path / "stacked" / "results.csv")
    b = pd.read_csv(tmp_path / "alone" / "results.csv")
    pd.testing.assert_frame_equal(a, b, atol=1e-6, rtol=0)
