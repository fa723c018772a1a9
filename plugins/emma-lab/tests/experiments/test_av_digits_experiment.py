"""The audio-visual digits experiment (examples/av-digits.yaml), shortened, through `emma run`:
on generated recordings everywhere, and on the real FSDD recordings where EMMA_DATA_DIR has
them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from _fsdd_samples import write_recordings
from shared_data import shared_data_dir

from emma_plugins.cli import main

pytest.importorskip("emma_cnn")  # CI installs plugins/ before the tests
pytest.importorskip("emma_lstm")

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "av-digits.yaml"


def shortened(
    *, frames: int, seeds: list[int], epochs: int = 1, **evaluation: Any
) -> dict[str, Any]:
    """The example spec with few epochs, seeds and (for generated audio) smaller features."""
    spec = yaml.safe_load(EXAMPLE.read_text())
    for mode in spec["modes"]:
        mode["estimator"]["epochs"] = epochs
    spec["modes"][1]["shape"] = [frames, frames]
    spec["data"]["dataset"].update(n_mels=frames, n_frames=frames)
    spec["training"].update(base_epochs=epochs + 1, epochs=epochs + 1)
    spec["evaluation"].update(seeds=seeds, noise_draws=1, **evaluation)
    return spec


def run(spec: dict[str, Any], tmp_path: Path, data_dir: Path) -> dict[str, Any]:
    path = tmp_path / "av.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    args = ["run", str(path), "--out", str(out), "--data-dir", str(data_dir), "--no-progress"]
    assert main(args) == 0
    return {"out": out, **json.loads((out / "results.json").read_text())}


def test_example_runs_end_to_end_on_generated_audio(tmp_path: Path) -> None:
    write_recordings(tmp_path / "data" / "fsdd", takes=10)
    result = run(shortened(frames=16, seeds=[0, 1]), tmp_path, tmp_path / "data")
    scores = result["scores"]
    models = {"early_fusion", "noise_augmentation", "emma", "emma[grad_norm]", "emma[encodings]"}
    assert {row["model"] for row in scores} == models
    full = [row["condition"] for row in scores if row["evaluation"] == "full_test"]
    expected = ["clean", "image_noisy", "audio_noisy", "image_missing", "audio_missing"]
    assert list(dict.fromkeys(full)) == expected
    assert all(0 <= row["value"] <= 1 for row in scores)
    assert {c["verdict"] for c in result["comparisons"]} == {"too_few_seeds"}  # 2 seeds
    report = (result["out"] / "report.md").read_text()
    assert "image: PixelNoise(sigma=1.0), audio: WhiteNoise(snr_db=0.0)" in report
    assert "### audio: white_noise snr_db" in report and "### image: pixel_noise sigma" in report
    analyses = result["out"] / "analyses"
    for name in ("sweep_curves.csv", "sweep_detection.csv", "sweep_attention.png"):
        assert (analyses / name).exists(), name
    assert (result["out"] / "checkpoints" / "seed0-emma[encodings]").is_dir()


def test_example_on_the_real_recordings(tmp_path: Path) -> None:
    root = shared_data_dir("fsdd", "SHA256SUMS", "recordings/0_george_0.wav")
    spec = shortened(frames=32, seeds=[0], analyses=False, variants=[], missing_modes=False)
    result = run(spec, tmp_path, root)
    clean = {
        row["model"]: row["value"]
        for row in result["scores"]
        if row["evaluation"] == "full_test" and row["condition"] == "clean"
    }
    # Two modes of one digit: even two epochs read it far above chance (0.1).
    assert clean["early_fusion"] > 0.6 and clean["emma"] > 0.6, clean
