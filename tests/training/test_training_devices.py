"""Devices and precision: what ``auto`` picks, clear errors for a device that is not there,
float32 attention under mixed precision, and training in bfloat16 and float16."""

from __future__ import annotations

import re

import pytest
import torch
from _deploy_samples import small_spec

from emma_plugins import build, parse_spec
from emma_plugins.cli import main
from emma_plugins.deploy import fit_model
from emma_plugins.sources import load_breast_cancer
from emma_plugins.spec.sections import TrainingSpec
from emma_plugins.training.devices import (
    DEVICE_PATTERN,
    DeviceError,
    Precision,
    resolve_device,
)
from emma_plugins.training.prepare import prepare

NO_CUDA = not torch.cuda.is_available()


def test_auto_picks_the_best_device_here() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if NO_CUDA and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        expected = "mps"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_cuda_without_cuda_says_what_torch_sees() -> None:
    with pytest.raises(DeviceError, match=r"CUDA is not available.*use --device cpu"):
        resolve_device("cuda:0")


def test_a_malformed_device_is_refused() -> None:
    with pytest.raises(DeviceError, match="not one of auto, cpu"):
        resolve_device("gpu")


def test_the_spec_accepts_exactly_the_devices_the_trainer_does() -> None:
    pattern = TrainingSpec.model_json_schema()["properties"]["device"]["pattern"]
    assert pattern == DEVICE_PATTERN
    for good in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        assert re.match(pattern, good)
    for bad in ("gpu", "cuda:", "cuda:x", "CPU"):
        assert not re.match(pattern, bad)


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_fit_on_a_missing_device_fails_in_one_line(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    spec = tmp_path / "bc.yaml"
    spec.write_text(yaml.safe_dump(small_spec()))
    assert main(["fit", str(spec), "--out", str(tmp_path / "m"), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert main(["fit", str(spec), "--out", str(tmp_path / "m"), "--device", "tpu"]) == 2


def test_attention_stays_float32_under_bfloat16_autocast() -> None:
    """The potentials, the Boltzmann normalisation and the gate compute in float32 inside an
    autocast region, so the attention weights match float32 (tolerance 1e-6); the network's
    output is bfloat16 and agrees to about 2 decimal digits."""
    spec = parse_spec(small_spec())
    data = prepare(
        load_breast_cancer(), spec.mode_names, seed=0, corruption=spec.resolved_training.corruption
    )
    torch.manual_seed(0)
    model = build(spec).fit_estimators(data.clean["train"].modes, progress=False).eval()
    batch = data.mixed["val"]
    with torch.no_grad():
        full = model(batch.modes, batch.missing)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            half = model(batch.modes, batch.missing)
    assert half.report.attention.dtype == torch.float32
    torch.testing.assert_close(half.report.attention, full.report.attention, rtol=0, atol=1e-6)
    torch.testing.assert_close(half.output.float(), full.output, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("precision", ["bf16", "16-mixed"])
def test_training_in_lower_precision_stays_close_to_float32(precision: str) -> None:
    full = fit_model(parse_spec(small_spec()), load_breast_cancer(), device="cpu")
    low = fit_model(parse_spec(small_spec(precision=precision)), load_breast_cancer(), device="cpu")
    assert low.history["val_loss"].notna().all()
    assert abs(low.metrics["test_clean_accuracy"] - full.metrics["test_clean_accuracy"]) < 0.1


def test_precision_gives_the_autocast_and_scaler_it_names() -> None:
    assert Precision("32").scaler(torch.device("cpu")) is None
    assert Precision("bf16").dtype is torch.bfloat16
    assert Precision("16-mixed").scaler(torch.device("cpu")) is not None
    with pytest.raises(ValueError, match="not one of 32, bf16, 16-mixed"):
        Precision("64")
