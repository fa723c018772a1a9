"""`emma_plugins.sklearn.EmmaClassifier`: scikit-learn's estimator checks, labels, modes,
energies and failure flags, pipelines and search, pickling and model directories."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from emma_plugins import EmmaModel, EmmaSpec, parse_spec
from emma_plugins.sklearn import EXPECTED_FAILED_CHECKS, EmmaClassifier
from emma_plugins.sources import DataWarning

DOC = Path(__file__).resolve().parents[2] / "docs" / "sklearn.md"
#: About half a second per fit on breast cancer, and still a useful model.
FAST: dict[str, Any] = {"epochs": 3, "base_epochs": 3, "estimator_epochs": 5, "lr": 1e-2}
#: The instance the estimator checks run on: one epoch per stage, with a learning rate high
#: enough that check_classifiers_train's training accuracy (> 0.83 on blobs) is reached.
CHECKED = EmmaClassifier(epochs=1, base_epochs=1, estimator_epochs=5, lr=0.05)

quiet = pytest.mark.filterwarnings(
    "ignore::emma_plugins.sources.DataWarning", "ignore::emma_plugins.TrainingWarning"
)


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


def three_modes(X: pd.DataFrame) -> dict[str, list[str]]:
    columns = list(X.columns)
    return {"mean": columns[:10], "error": columns[10:20], "worst": columns[20:]}


@pytest.fixture(scope="module")
def fitted(cancer: tuple[pd.DataFrame, pd.Series]) -> EmmaClassifier:
    X, y = cancer
    return EmmaClassifier(three_modes(X), **FAST).fit(X, y)


# -- scikit-learn's estimator checks ----------------------------------------------------------
@quiet
def test_estimator_checks_pass_but_the_expected_failures() -> None:
    results = check_estimator(
        CHECKED, expected_failed_checks=EXPECTED_FAILED_CHECKS, on_skip=None, on_fail=None
    )
    failed = {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}
    assert failed == {}
    ran = {r["check_name"] for r in results}
    assert set(EXPECTED_FAILED_CHECKS) <= ran, "an expected failure names no check"
    passing = {r["check_name"] for r in results if r["expected_to_fail"]} - {
        r["check_name"] for r in results if r["status"] == "xfail"
    }
    assert passing == set(), "these checks pass now: drop them from EXPECTED_FAILED_CHECKS"
    assert sum(r["status"] == "passed" for r in results) >= 50


def test_the_doc_lists_every_expected_failure_and_no_other() -> None:
    text = DOC.read_text("utf-8")
    listed = set(re.findall(r"^\| `(check_\w+)` \|", text, flags=re.MULTILINE))
    assert listed == set(EXPECTED_FAILED_CHECKS)
    assert all(reason.strip() for reason in EXPECTED_FAILED_CHECKS.values())


# -- fit and predict ---------------------------------------------------------------------------
def test_three_modes_by_column_name(
    fitted: EmmaClassifier, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = cancer
    assert fitted.score(X, y) > 0.9
    assert fitted.n_features_in_ == 30 and list(fitted.feature_names_in_) == list(X.columns)
    assert fitted.modes_ == three_modes(X)
    assert fitted.model_.mode_names == ("mean", "error", "worst")
    assert set(fitted.history_["stage"]) == {"base", "emma"}
    assert fitted.thresholds_ is not None and set(fitted.thresholds_.modes) == set(fitted.modes_)
    assert fitted.metrics_["rows"] == {"train": 381, "val": 94, "test": 94}
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(fitted.predict(X), fitted.classes_[proba.argmax(axis=1)])
    assert np.array_equal(fitted.decision_function(X) > 0, proba[:, 1] > 0.5)


@quiet
@pytest.mark.parametrize(
    "labels",
    [
        np.array(["benign", "malignant"], dtype=object),
        np.array([-1, 1]),
        np.array([1.0, 3.0]),
        np.array([True, False]),
    ],
    ids=["object", "int", "float", "bool"],
)
def test_predictions_are_the_original_labels_with_their_dtype(labels: np.ndarray) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[::3], labels[y[::3]]
    clf = EmmaClassifier(3, **FAST).fit(X, y)
    assert np.array_equal(clf.classes_, np.unique(labels))
    predicted = clf.predict(X)
    assert predicted.dtype == np.unique(labels).dtype
    assert set(predicted) <= set(labels.tolist()) and clf.score(X, y) > 0.8


def test_multiclass_probabilities_follow_classes_order() -> None:
    X, target = load_iris(return_X_y=True)
    names = np.array(["versicolor", "setosa", "virginica"])[target]  # not in sorted order
    training = {**FAST, "epochs": 20, "base_epochs": 20}
    clf = EmmaClassifier({"sepal": [0, 1], "petal": [2, 3]}, **training).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.mean(clf.classes_[proba.argmax(axis=1)] == names) > 0.9
    assert clf.decision_function(X).shape == (150, 3)
    assert clf.model_.spec.out_features == 3


def test_score_samples_is_the_negative_total_energy(
    fitted: EmmaClassifier, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = cancer
    rows = X.iloc[:40]
    scores = fitted.score_samples(rows)
    assert np.allclose(scores, -fitted.failures(rows)["total_energy"].to_numpy())
    broken = rows.copy()
    broken[three_modes(X)["worst"]] += 50 * X[three_modes(X)["worst"]].std()
    assert np.all(fitted.score_samples(broken) < scores)


def test_failures_flag_the_mode_with_a_broken_reading(
    fitted: EmmaClassifier, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = cancer
    rows = X.iloc[10:20].copy()
    rows.loc[rows.index[0], "mean radius"] = np.nan
    rows.loc[rows.index[1], "worst area"] = np.inf
    report = fitted.failures(rows)
    modes = ("mean", "error", "worst")
    expected = [
        f"{m}_{f}" for m in modes for f in ("potential", "importance", "attention", "failed")
    ]
    assert list(report.columns) == [*expected, "total_energy", "uncertain"]
    assert list(report.index) == list(rows.index)
    assert report["mean_failed"].iloc[0] and not report["error_failed"].iloc[0]
    assert report["worst_failed"].iloc[1] and report["uncertain"].iloc[:2].all()
    assert np.isfinite(fitted.predict_proba(rows)).all()


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_errors_before_fit_and_on_a_different_table(
    fitted: EmmaClassifier, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = cancer
    with pytest.raises(NotFittedError):
        EmmaClassifier().predict(X)
    with pytest.raises(ValueError, match="X has 29 features"):
        fitted.predict(X.to_numpy()[:, 1:])
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict(X[X.columns[::-1]])


@pytest.mark.parametrize(
    ("modes", "message"),
    [
        ({"a": ["mean radius"], "b": ["no such column"]}, "no column 'no such column'"),
        ({"a": [0, 1], "b": [1, 2]}, "is in modes 'a' and 'b'"),
        ({"a": [0, 1]}, "at least 2"),
        (1, "at least 2 modes"),
        ({"a": [0], "b": [99]}, "out of range"),
    ],
)
def test_bad_modes_are_refused_before_training(
    modes: Any, message: str, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = cancer
    with pytest.raises(ValueError, match=message):
        EmmaClassifier(modes).fit(X, y)


def test_column_names_need_a_dataframe(cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = cancer
    with pytest.raises(ValueError, match="X has no column names"):
        EmmaClassifier(three_modes(X)).fit(X.to_numpy(), y)


def test_default_modes_are_two_halves(cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = cancer
    clf = EmmaClassifier(**FAST).fit(X.to_numpy(), y)
    assert clf.modes_ == {"mode_0": list(range(15)), "mode_1": list(range(15, 30))}
    assert not hasattr(clf, "feature_names_in_")


def test_a_dict_of_arrays_per_mode(cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = cancer
    table = X.to_numpy()
    arrays = {"mean": table[:, :10], "rest": table[:, 10:].reshape(-1, 4, 5)}
    clf = EmmaClassifier(**FAST).fit(arrays, y)
    assert clf.model_.spec.mode_shapes == ((10,), (4, 5))
    assert clf.n_features_in_ == 30 and clf.score(arrays, y) > 0.9
    assert np.array_equal(clf.predict_proba(arrays), clf.predict_proba(table))
    with pytest.raises(ValueError, match="modes"):
        clf.predict({"mean": table[:, :10]})
    with pytest.raises(ValueError, match="leave modes=None"):
        EmmaClassifier({"a": [0]}).fit(arrays, y)


def test_a_spec_gives_the_model_and_its_training(
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = cancer
    spec = {
        "spec_version": 1,
        "modes": [
            {"name": name, "columns": columns, "estimator": {"kind": "dae", "epochs": 5}}
            for name, columns in three_modes(X).items()
        ],
        "network": {"kind": "mlp", "hidden": [8]},
        "data": {"dataset": {"kind": "breast_cancer"}},
        "training": {"epochs": 2, "base_epochs": 2, "lr": 0.01},
    }
    clf = EmmaClassifier(spec=spec).fit(X, y)
    assert clf.model_.spec.training is not None and clf.model_.spec.training.epochs == 2
    assert len(clf.history_) == 4 and clf.score(X, y) > 0.85
    with pytest.warns(UserWarning, match="epochs, lr are ignored"):
        EmmaClassifier(spec=spec, epochs=1, lr=0.5).fit(X, y)
    with pytest.raises(ValueError, match="not both"):
        EmmaClassifier(three_modes(X), spec=spec).fit(X, y)


def test_a_spec_file_or_object_works_too(
    tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = cancer
    spec = {
        "spec_version": 1,
        "modes": [
            {"name": "a", "columns": list(range(15)), "estimator": {"kind": "dae", "epochs": 5}},
            {
                "name": "b",
                "columns": list(range(15, 30)),
                "estimator": {"kind": "dae", "epochs": 5},
            },
        ],
        "network": {"kind": "mlp", "hidden": [8]},
        "training": {"epochs": 2, "base_epochs": 2, "lr": 0.01},
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    from_file = EmmaClassifier(spec=path).fit(X, y)
    unfitted = pickle.loads(pickle.dumps(EmmaClassifier(spec=parse_spec(spec))))
    assert isinstance(unfitted.spec, EmmaSpec)
    from_object = clone(unfitted).fit(X, y)
    assert np.allclose(from_file.predict_proba(X), from_object.predict_proba(X))
    assert from_file.modes_ == {"a": list(X.columns[:15]), "b": list(X.columns[15:])}


@pytest.mark.filterwarnings("ignore::emma_plugins.TrainingWarning")
def test_tiny_data_fit_with_a_warning_or_fail_with_the_reason() -> None:
    X = np.arange(16, dtype=float).reshape(8, 2)
    with pytest.warns(DataWarning, match="too small"):
        EmmaClassifier(**FAST).fit(X, [0, 0, 0, 0, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="test split is empty"):
        EmmaClassifier(**FAST).fit(X[:3], [0, 0, 1])


# -- scikit-learn's tools ------------------------------------------------------------------
def test_in_a_pipeline_column_names_reach_the_modes(
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = cancer
    scaler = StandardScaler().set_output(transform="pandas")
    pipe = make_pipeline(scaler, EmmaClassifier(three_modes(X), **FAST)).fit(X, y)
    assert pipe.score(X, y) > 0.9
    assert pipe[-1].modes_ == three_modes(X)


def test_cross_val_score(cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = cancer
    scores = cross_val_score(EmmaClassifier(3, **FAST), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85


def test_grid_search_over_modes_and_coldness(cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = cancer
    search = GridSearchCV(EmmaClassifier(**FAST), {"modes": [2, 3], "rho": [0.01, 1.0]}, cv=2).fit(
        X, y
    )
    assert search.best_params_["modes"] in (2, 3)
    assert search.best_score_ > 0.85 and search.best_estimator_.score(X, y) > 0.85


# -- pickling and model directories -----------------------------------------------------------
def test_pickle_keeps_the_model(
    fitted: EmmaClassifier, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = cancer
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.predict_proba(X), fitted.predict_proba(X))
    assert again.thresholds_ == fitted.thresholds_


def test_save_and_load_a_model_directory(
    tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = cancer
    labels = np.where(y == 1, "malignant", "benign")
    clf = EmmaClassifier(three_modes(X), **FAST).fit(X, labels)
    clf.save(tmp_path / "model")
    loaded = EmmaClassifier.load(tmp_path / "model")
    assert np.array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert loaded.get_params() == clf.get_params()
    assert loaded.history_.shape == clf.history_.shape and loaded.modes_ == clf.modes_
    model = EmmaModel.from_pretrained(tmp_path / "model")
    assert model.deployment is not None
    assert model.deployment.class_names == ["benign", "malignant"]


def test_the_doc_snippet_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (script,) = re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.DOTALL)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(script, str(DOC), "exec"), namespace)
    clf, X, y = namespace["clf"], namespace["X"], namespace["y"]
    assert clf.score(X, y) > 0.9
    loaded = EmmaClassifier.load(tmp_path / "emma-model")
    assert np.array_equal(loaded.predict(X), clf.predict(X))
