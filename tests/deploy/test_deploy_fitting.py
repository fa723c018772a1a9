"""`fit_model`: a model directory from a spec, a history, test scores, and an exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _deploy_samples import small_spec

from emma_plugins import EmmaModel, parse_spec
from emma_plugins.assembly.checkpoint import read_extra
from emma_plugins.core.errors import CheckpointError, DataError
from emma_plugins.deploy import FitOutcome, fit_model
from emma_plugins.deploy.progress import FileStageStore
from emma_plugins.sources import load_breast_cancer
from emma_plugins.training.resume import TrainerState

MODES = ("mean", "error", "worst")


def test_the_model_directory_holds_everything_predict_needs(
    fitted: FitOutcome, model_dir: Path
) -> None:
    names = {p.name for p in model_dir.iterdir()}
    assert {"model.safetensors", "spec.json", "deployment.json", "history.csv"} <= names
    assert {"metrics.json", "checkpoint.json", "progress"} <= names
    deployment = json.loads((model_dir / "deployment.json").read_text())
    assert deployment["class_names"] == ["benign", "malignant"]
    assert deployment["modes"]["mean"]["columns"][0] == "mean radius"
    assert len(deployment["modes"]["worst"]["std"]) == 10
    assert set(deployment["thresholds"]["modes"]) == {"mean", "error", "worst"}


def test_history_has_a_row_per_epoch_of_each_stage_with_validation_scores(
    fitted: FitOutcome, model_dir: Path
) -> None:
    history = pd.read_csv(model_dir / "history.csv")
    assert history["stage"].tolist() == ["base"] * 3 + ["emma"] * 3
    assert {"train_loss", "val_loss", "val_accuracy", "val_f1"} <= set(history.columns)
    assert history.equals(pd.read_csv(pd.io.common.BytesIO(read_extra(model_dir, "history.csv"))))
    assert history.iloc[:, 1:4].notna().all().all()


def test_test_scores_are_reported_clean_and_corrupted(fitted: FitOutcome) -> None:
    metrics = fitted.metrics
    assert 0.8 < metrics["test_clean_accuracy"] <= 1.0
    assert 0.0 < metrics["test_mixed_f1"] <= 1.0
    assert sum(metrics["rows"].values()) == 569


def test_from_pretrained_gives_the_same_model_and_deployment(
    fitted: FitOutcome, model_dir: Path
) -> None:
    loaded = EmmaModel.from_pretrained(model_dir)
    assert loaded.deployment == fitted.model.deployment
    x = [torch.randn(5, 10) for _ in range(3)]
    torch.testing.assert_close(loaded(x).output, fitted.model(x).output)
    loaded.save_pretrained(model_dir.parent / "copy")
    assert EmmaModel.from_pretrained(model_dir.parent / "copy").deployment == loaded.deployment


class Interrupt(Exception):
    """Raised from an epoch callback, as a kill between two epochs would stop training."""


def test_an_interrupted_fit_resumes_to_the_uninterrupted_model(tmp_path: Path) -> None:
    spec = parse_spec(small_spec(epochs=4))
    whole = fit_model(spec, out=tmp_path / "whole")

    original = FileStageStore.save_epoch

    def stop_in_emma(self: FileStageStore, stage: str, state: TrainerState) -> None:
        original(self, stage, state)
        if stage == "emma" and state.epoch == 2:
            raise Interrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FileStageStore, "save_epoch", stop_in_emma)
        with pytest.raises(Interrupt):
            fit_model(spec, out=tmp_path / "cut")
    assert (tmp_path / "cut" / "progress" / "emma.state.pt").is_file()
    resumed = fit_model(spec, out=tmp_path / "cut", resume=True)
    expected, got = whole.model.state_dict(), resumed.model.state_dict()
    assert list(expected) == list(got)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=1e-6, msg=key)
    assert resumed.history["val_loss"].tolist() == pytest.approx(
        whole.history["val_loss"].tolist(), abs=1e-6
    )


def test_resume_refuses_progress_of_another_spec(tmp_path: Path) -> None:
    store = FileStageStore(tmp_path)
    store.begin("one", resume=False)
    with pytest.raises(CheckpointError, match="another spec"):
        store.begin("two", resume=True)
    store.begin("two", resume=False)  # a fresh start clears it
    assert json.loads((tmp_path / "fit.json").read_text())["fingerprint"] == "two"


def test_python_data_trains_without_a_data_section(tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    from emma_plugins.deploy import as_multimodal

    spec_dict = small_spec(base_epochs=1, epochs=1)
    del spec_dict["data"]
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    for i, mode in enumerate(spec_dict["modes"]):
        mode["columns"] = list(frame.columns[10 * i : 10 * i + 10])
    spec = parse_spec(spec_dict)
    labels = bunch.target.map({0: "malignant", 1: "benign"})
    outcome = fit_model(spec, as_multimodal(frame, labels, spec=spec))
    assert outcome.model.deployment is not None
    assert outcome.model.deployment.class_names == ["benign", "malignant"]
    assert outcome.directory is None


def test_a_table_with_missing_cells_trains_with_the_mode_masked(tmp_path: Path) -> None:
    table = load_breast_cancer().features.copy()
    table["diagnosis"] = load_breast_cancer().target
    table.iloc[::7, 11] = np.nan  # one "error" cell in every seventh row
    table.to_csv(tmp_path / "cells.csv", index=False)
    spec_dict = small_spec(base_epochs=1, epochs=1)
    spec_dict["modes"][1]["on_missing"] = "missing"
    columns = list(table.columns)
    spec_dict["data"] = {
        "dataset": {
            "kind": "table",
            "path": "cells.csv",
            "label": "diagnosis",
            "on_missing": "missing",
            "modes": {m: columns[10 * i : 10 * i + 10] for i, m in enumerate(MODES)},
        }
    }
    outcome = fit_model(parse_spec(spec_dict), data_dir=tmp_path)
    assert np.isfinite(outcome.history["val_loss"]).all()
    spec_dict["modes"][1]["on_missing"] = "error"
    with pytest.raises(DataError, match="of mode 'error' is missing"):
        fit_model(parse_spec(spec_dict), data_dir=tmp_path)


def test_every_epoch_is_logged_for_tensorboard(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    fit_model(parse_spec(small_spec(base_epochs=2, epochs=3)), tensorboard=tmp_path / "tb")
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"base/val_loss", "emma/train_loss", "emma/val_f1"} <= tags
    assert [e.step for e in events.Scalars("emma/val_loss")] == [1, 2, 3]
