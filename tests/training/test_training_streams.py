"""Streaming training: a folder data set decoded per batch, equal whatever the workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _image_folders import streaming_spec

from emma_plugins import parse_spec
from emma_plugins.core.errors import SpecError
from emma_plugins.deploy import fit_model
from emma_plugins.testing.folders import write_image_folder

pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("images") / "cams", 240)


def test_a_streamed_folder_trains_and_learns(folder: Path) -> None:
    spec = parse_spec(streaming_spec("cams"))
    outcome = fit_model(spec, data_dir=folder.parent, device="cpu")
    assert outcome.history["stage"].tolist() == ["base", "base", "emma", "emma"]
    assert np.isfinite(outcome.history["val_loss"]).all()
    assert outcome.metrics["test_clean_accuracy"] > 0.8
    deployment = outcome.model.deployment
    assert deployment is not None and deployment.class_names == ["bright", "dark"]
    assert len(deployment.modes["left"].columns) == 256


def test_worker_processes_decode_the_same_batches(folder: Path) -> None:
    serial = fit_model(parse_spec(streaming_spec("cams")), data_dir=folder.parent, device="cpu")
    workers = fit_model(
        parse_spec(streaming_spec("cams", num_workers=2)), data_dir=folder.parent, device="cpu"
    )
    for key, value in serial.model.state_dict().items():
        torch.testing.assert_close(workers.model.state_dict()[key], value, msg=key)


def test_a_kind_without_a_streamed_form_is_refused() -> None:
    spec = streaming_spec("cams")
    spec["data"] = {"dataset": {"kind": "breast_cancer"}}
    spec["modes"] = [
        {"name": n, "width": 10, "estimator": {"kind": "dae", "hidden": 4}}
        for n in ("mean", "error", "worst")
    ]
    with pytest.raises(SpecError, match="has no streamed form"):
        fit_model(parse_spec(spec), device="cpu")
