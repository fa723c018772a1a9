"""Checkpoints: identical outputs after a round trip; truncated or mismatched ones refused."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
from _spec_samples import HTRU2_YAML, SumNet, calibrated, spec_dict, table

from emma_plugins.assembly import checkpoint
from emma_plugins.assembly.builder import build
from emma_plugins.assembly.checkpoint import MANIFEST_FILE, SPEC_FILE, WEIGHTS_FILE, load, save
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.core.errors import CheckpointError


def trained_like(model: EmmaModel) -> EmmaModel:
    """Calibrate and perturb every parameter so a fresh build would differ."""
    calibrated(model, table())
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return model


def test_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    model = trained_like(build(HTRU2_YAML)).eval()
    save(model, tmp_path / "ckpt")
    assert sorted(os.listdir(tmp_path / "ckpt")) == [MANIFEST_FILE, WEIGHTS_FILE, SPEC_FILE]
    loaded = load(tmp_path / "ckpt")
    assert not loaded.training
    x = table(seed=5)
    before, after = model(x), loaded(x)
    assert torch.equal(before.output, after.output)
    assert torch.equal(before.report.attention, after.report.attention)  # type: ignore[union-attr]
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_spec_json_is_a_valid_spec_file(tmp_path: Path) -> None:
    from emma_plugins.spec import load_spec

    model = build(HTRU2_YAML)
    save(model, tmp_path)
    assert load_spec(tmp_path / SPEC_FILE).to_dict() == model.spec.to_dict()


def test_truncated_weights_are_refused(tmp_path: Path) -> None:
    save(build(HTRU2_YAML), tmp_path)
    weights = tmp_path / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-100])
    truncated = r"model\.safetensors changed after .* shorter than saved .* truncated"
    with pytest.raises(CheckpointError, match=truncated):
        load(tmp_path)


def test_truncated_weights_without_a_size_record_are_still_refused(tmp_path: Path) -> None:
    """Even with a manifest rewritten to match, safetensors refuses a cut header or body."""
    save(build(HTRU2_YAML), tmp_path)
    weights = tmp_path / WEIGHTS_FILE
    cut = weights.read_bytes()[:40]
    weights.write_bytes(cut)
    rewrite_entry(tmp_path, "weights", cut)
    with pytest.raises(CheckpointError, match="unreadable safetensors file"):
        load(tmp_path)


def rewrite_entry(root: Path, entry: str, data: bytes) -> None:
    manifest = json.loads((root / MANIFEST_FILE).read_text())
    manifest[entry].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (root / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_edited_spec_is_refused(tmp_path: Path) -> None:
    save(build(HTRU2_YAML), tmp_path)
    spec = json.loads((tmp_path / SPEC_FILE).read_text())
    spec["modes"][0]["estimator"]["hidden"] = 16
    edited = json.dumps(spec).encode()
    (tmp_path / SPEC_FILE).write_bytes(edited)
    with pytest.raises(CheckpointError, match=r"spec\.json changed after"):
        load(tmp_path)
    rewrite_entry(tmp_path, "spec", edited)  # a spec and weights that do not belong together
    with pytest.raises(CheckpointError) as caught:
        load(tmp_path)
    message = str(caught.value)
    assert "do not fit the model" in message
    assert "attention.estimators.0.weight: checkpoint [12, 4], model [16, 4]" in message


def test_missing_manifest_means_no_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"checkpoint\.json is missing"):
        load(tmp_path)


def test_other_format_versions_are_refused(tmp_path: Path) -> None:
    save(build(HTRU2_YAML), tmp_path)
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    manifest["version"] = 99
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="format version 99"):
        load(tmp_path)


def test_user_network_checkpoint_needs_the_network_again(tmp_path: Path) -> None:
    data = spec_dict()
    del data["network"]
    model = trained_like(build(data, network=SumNet()))
    save(model, tmp_path)
    with pytest.raises(CheckpointError, match=r"_spec_samples\.SumNet.*network=\.\.\."):
        load(tmp_path)
    loaded = load(tmp_path, network=SumNet())
    assert torch.equal(loaded(table()).output, model.eval()(table()).output)


def test_interrupted_save_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = trained_like(build(HTRU2_YAML)).eval()
    save(first, tmp_path)
    calls = {"n": 0}
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        save(trained_like(build(HTRU2_YAML)), tmp_path)
    assert sorted(os.listdir(tmp_path)) == [MANIFEST_FILE, WEIGHTS_FILE, SPEC_FILE]  # no temp files
    assert torch.equal(load(tmp_path)(table()).output, first(table()).output)


def test_disabled_attention_model_round_trips(tmp_path: Path) -> None:
    model = build(spec_dict(attention={"enabled": False}))
    save(model, tmp_path)
    loaded = load(tmp_path)
    assert loaded.attention is None
    assert torch.equal(loaded(table()).output, model(table()).output)


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../outside.safetensors", "sub/weights.safetensors", "..", ""]
)
def test_manifest_files_outside_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "ckpt"
    save(build(HTRU2_YAML), folder)
    (tmp_path / "outside.safetensors").write_bytes((folder / WEIGHTS_FILE).read_bytes())
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["weights"]["file"] = name
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="not a plain file name"):
        load(folder)


@pytest.mark.parametrize(("field", "value"), [("bytes", "12"), ("sha256", 5), ("file", ["w"])])
def test_manifest_fields_of_the_wrong_type_are_refused(
    tmp_path: Path, field: str, value: object
) -> None:
    save(build(HTRU2_YAML), tmp_path)
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    manifest["spec"][field] = value
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="'spec' entry needs a file name"):
        load(tmp_path)
