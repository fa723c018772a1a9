"""Every example spec of the repository validates, builds and runs with the lab installed.

The examples are experiments: they name the lab's data sets and its ``evaluation`` section.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from emma_plugins import EmmaSpec, build, load_spec, parse_spec
from emma_plugins.core.errors import SpecError

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.*"))


def calibrated(model, x):  # type: ignore[no-untyped-def]
    """Record the estimators' minima on ``x`` so the attention can run (no training)."""
    for estimator, mode in zip(model.estimators, model.split(x), strict=True):
        estimator.calibrate(mode)
    if model.attention is not None:
        model.attention.calibrate_()
    return model


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates(path: Path) -> None:
    spec = load_spec(path)
    assert isinstance(spec, EmmaSpec)
    assert len(spec.modes) >= 2


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_builds_and_runs(path: Path) -> None:
    model = build(path)
    x = torch.randn(16, sum(mode.size for mode in model.spec.modes))
    model = calibrated(model, x)
    assert model(x).output.shape == (16, model.spec.out_features)


def test_a_path_parameter_of_a_lab_data_set_must_stay_inside_the_data_directory() -> None:
    spec = {
        "spec_version": 1,
        "modes": [
            {"name": "ip", "width": 4, "estimator": "dae"},
            {"name": "dm_snr", "width": 4, "estimator": "dae"},
        ],
        "network": "mlp",
        "data": {"dataset": {"kind": "htru2", "data_dir": "/home/me/data"}},
    }
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    assert [issue.location for issue in caught.value.issues] == ["data.dataset.data_dir"]
    assert "absolute data path" in str(caught.value)
