"""Predictions from raw rows: failure flags, broken readings, input order, streamed files."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emma_plugins import EmmaModel
from emma_plugins.core.errors import DataError, NotFittedError
from emma_plugins.deploy import FitOutcome
from emma_plugins.deploy.prediction import Predictor, predict, predict_file
from emma_plugins.sources import load_breast_cancer


@pytest.fixture(scope="module")
def model(model_dir: Path) -> EmmaModel:
    return EmmaModel.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return load_breast_cancer().features.copy()


def test_one_row_per_input_row_with_every_column(model: EmmaModel, table: pd.DataFrame) -> None:
    out = predict(model, table.iloc[:20])
    assert len(out) == 20
    expected = ["prediction", "proba_benign", "proba_malignant"]
    for mode in ("mean", "error", "worst"):
        expected += [f"{mode}_{k}" for k in ("potential", "importance", "attention", "failed")]
    assert list(out.columns) == [*expected, "total_energy", "uncertain"]
    assert set(out["prediction"]) <= {"benign", "malignant"}
    np.testing.assert_allclose(out[["proba_benign", "proba_malignant"]].sum(axis=1), 1, atol=1e-6)
    importance = out[[f"{m}_importance" for m in ("mean", "error", "worst")]].sum(axis=1)
    np.testing.assert_allclose(importance, 1, atol=1e-5)


def test_rows_keep_their_order(model: EmmaModel, table: pd.DataFrame) -> None:
    forward = predict(model, table.iloc[:30])
    backward = predict(model, table.iloc[:30].iloc[::-1])
    np.testing.assert_allclose(
        forward["total_energy"].to_numpy()[::-1], backward["total_energy"].to_numpy(), rtol=1e-6
    )


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e30])
def test_a_broken_reading_flags_its_mode_and_never_turns_the_row_into_nan(
    model: EmmaModel, table: pd.DataFrame, value: float
) -> None:
    rows = table.iloc[:4].copy()
    rows.iloc[1, 3] = value  # a column of the "mean" mode
    out = predict(model, rows)
    numbers = out.drop(columns=["prediction", "mean_potential"]).astype(float)
    assert np.isfinite(numbers.to_numpy()).all()
    assert out.loc[1, "mean_failed"] and out.loc[1, "mean_attention"] == 0.0
    assert np.isnan(out.loc[1, "mean_potential"])  # masked: no potential to report
    assert out.loc[1, "uncertain"]
    clean = predict(model, table.iloc[:4])
    for row in (0, 2, 3):
        assert out.loc[row, "total_energy"] == pytest.approx(clean.loc[row, "total_energy"])


def test_clean_validation_like_rows_rarely_fail(model: EmmaModel, table: pd.DataFrame) -> None:
    out = predict(model, table)
    for mode in ("mean", "error", "worst"):
        assert out[f"{mode}_failed"].mean() < 0.1


def test_an_obviously_broken_sensor_is_flagged(model: EmmaModel, table: pd.DataFrame) -> None:
    rows = table.iloc[:50].copy()
    worst = [c for c in rows.columns if c.startswith("worst")]
    rows[worst] = rows[worst] * 8.0  # gain x8 on one sensor group
    out = predict(model, rows)
    assert out["worst_failed"].mean() > 0.9
    assert out["mean_failed"].mean() < 0.2


def test_arrays_per_mode_of_any_real_dtype(model: EmmaModel, table: pd.DataFrame) -> None:
    values = table.to_numpy()
    frame_out = predict(model, table.iloc[:5])
    arrays = {
        "mean": values[:5, :10],
        "error": values[:5, 10:20].tolist(),
        "worst": values[:5, 20:],
    }
    np.testing.assert_allclose(
        predict(model, arrays)["total_energy"], frame_out["total_energy"], rtol=1e-5
    )
    as_int = {k: np.asarray(v).astype(np.int64) for k, v in arrays.items()}
    assert len(predict(model, as_int)) == 5
    with pytest.raises(TypeError, match="mode 'error'"):
        predict(model, {**arrays, "error": np.array([["a"] * 10] * 5)})
    with pytest.raises(ValueError, match="missing \\['worst'\\]"):
        predict(model, {"mean": arrays["mean"], "error": arrays["mean"]})


def test_a_missing_column_is_named(model: EmmaModel, table: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="mode 'error' needs column"):
        predict(model, table.drop(columns=["radius error"]))


def test_files_stream_in_chunks_to_the_same_result(
    model: EmmaModel, table: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "rows.csv"
    rows = table.iloc[:45].copy()
    rows.iloc[7, 0] = np.nan
    rows.to_csv(source, index=False)
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    assert predict_file(model, source, whole) == 45
    assert predict_file(model, source, chunked, chunk_rows=10) == 45
    a, b = pd.read_csv(whole), pd.read_csv(chunked)
    pd.testing.assert_frame_equal(a, b)
    assert a.loc[7, "mean_failed"]


def test_a_byte_order_mark_does_not_hide_the_first_column(
    model: EmmaModel, table: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "bom.csv"
    source.write_bytes(b"\xef\xbb\xbf" + table.iloc[:3].to_csv(index=False).encode())
    assert predict_file(model, source, tmp_path / "out.csv") == 3


def test_a_cell_that_is_not_a_number_is_named(
    model: EmmaModel, table: pd.DataFrame, tmp_path: Path
) -> None:
    rows = table.iloc[:5].astype(object)
    rows.iloc[3, 12] = "oops"
    rows.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"row 4, column 'perimeter error': 'oops'"):
        predict_file(model, tmp_path / "bad.csv", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()  # nothing half-written


def with_policy(fitted: FitOutcome, mode: str, policy: str) -> EmmaModel:
    """A copy of the fitted model whose ``mode`` has another ``on_missing``."""
    model = copy.deepcopy(fitted.model)
    assert model.deployment is not None
    modes = dict(model.deployment.modes)
    modes[mode] = modes[mode].model_copy(update={"on_missing": policy})
    model.deployment = model.deployment.model_copy(update={"modes": modes})
    return model


def test_the_error_policy_refuses_a_broken_reading(fitted: FitOutcome, table: pd.DataFrame) -> None:
    rows = table.iloc[:3].copy()
    rows.iloc[2, 0] = np.nan
    with pytest.raises(DataError, match="row 2: mode 'mean'"):
        predict(with_policy(fitted, "mean", "error"), rows)


def test_impute_mean_keeps_the_mode_and_still_flags_it(
    fitted: FitOutcome, table: pd.DataFrame
) -> None:
    rows = table.iloc[:3].copy()
    rows.iloc[0, 0] = np.nan
    out = predict(with_policy(fitted, "mean", "impute_mean"), rows)
    assert out.loc[0, "mean_failed"] and out.loc[0, "mean_attention"] > 0


def test_a_model_that_was_only_built_cannot_predict(fitted: FitOutcome) -> None:
    from emma_plugins import build

    with pytest.raises(NotFittedError, match="emma fit"):
        Predictor(build(fitted.model.spec))
