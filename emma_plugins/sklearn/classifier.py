"""`EmmaClassifier`: EMMA as a scikit-learn classifier (see the package docstring)."""

from __future__ import annotations

import copy
import io
import json
import numbers
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

try:
    from sklearn.utils.validation import validate_data
except ImportError as exc:  # scikit-learn < 1.6
    raise ImportError(
        "emma_plugins.sklearn needs scikit-learn 1.6 or later (validate_data, estimator "
        "tags); upgrade it: pip install -U scikit-learn"
    ) from exc

from emma_plugins.assembly.checkpoint import read_extra, save
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.core.errors import DataError
from emma_plugins.deploy.data import as_multimodal
from emma_plugins.deploy.fitting import fit_model
from emma_plugins.deploy.inference import OUTPUTS, RawInputModel
from emma_plugins.sklearn._columns import (
    _block_columns,
    _block_layout,
    _checked_columns,
    _differs,
    _header,
    _is_mode_dict,
    _jsonable,
    _mode_columns,
    _stack_blocks,
)
from emma_plugins.sklearn._pickling import _PickledModel, _PickledSpec
from emma_plugins.spec import EmmaSpec, load_spec, parse_spec

#: The file beside the model's weights that holds the estimator's own state (`save`).
ESTIMATOR_FILE = "sklearn.json"
HISTORY_FILE = "history.csv"
#: Rows per forward pass at predict time.
PREDICT_BATCH = 8192

#: scikit-learn estimator checks that `EmmaClassifier` fails on purpose: check name ->
#: reason. ``tests/test_sklearn_estimator.py`` passes it as ``expected_failed_checks``.
EXPECTED_FAILED_CHECKS: dict[str, str] = {
    "check_estimators_nan_inf": (
        "predict accepts NaN and infinite readings on purpose: the mode holding them is "
        "masked and flagged failed (see failures()); fit does refuse them"
    ),
}

#: The keyword parameters a ``spec`` replaces (they are ignored when a spec is given).
_SPEC_REPLACES = (
    "epochs",
    "base_epochs",
    "lr",
    "batch_size",
    "rho",
    "lambda_c",
    "lambda_e",
    "hidden",
    "estimator_hidden",
    "estimator_epochs",
    "sigma",
    "false_alarm_rate",
    "random_state",
)


class EmmaClassifier(ClassifierMixin, BaseEstimator):
    """Energy-based Multi-Modal Attention as a scikit-learn classifier.

    Parameters
    ----------
    modes : mapping, int or None, default=None
        Which columns form each mode. A mapping of mode name to a list of column names (of a
        DataFrame) or 0-based column positions; an int ``k``: the columns cut into ``k``
        contiguous, nearly equal blocks ``mode_0 .. mode_{k-1}``; ``None``: two such blocks
        (EMMA weighs modes against each other, so it needs at least two). Columns no mode
        names are ignored. Must be ``None`` when ``X`` is a dict of arrays (its keys are the
        modes) or when ``spec`` is given.
    spec : dict, path or EmmaSpec, default=None
        A complete spec instead of the parameters below: its modes (each naming its
        ``columns``, unless ``X`` is a dict keyed by mode), attention, network and training
        section are used as they are, and the keyword parameters (but ``verbose``) are
        ignored, with a warning for any not at its default. ``out_features`` is set from
        ``y`` and a ``data`` section is dropped.
    epochs : int, default=30
        Epochs of stage 2 (EMMA and the network, on the corrupted mix).
    base_epochs : int, default=30
        Epochs of stage 1 (the network alone on clean data).
    lr : float, default=1e-3
        Adam learning rate.
    batch_size : int, default=32
        Mini-batch size.
    rho : float, default=0.01
        Coldness of the Boltzmann importance (higher: sharper attention).
    lambda_c, lambda_e : float, default=1e-3, 1e-2
        Weights of the capacity and energy regularizers.
    hidden : sequence of int, default=(16, 8)
        Hidden layer sizes of the ``mlp`` network.
    estimator_hidden : int or None, default=None
        Hidden units of each mode's ``dae`` estimator (None: the kind's default, 12).
    estimator_epochs : int or None, default=None
        Training epochs of each ``dae`` estimator (None: the kind's default, 30).
    sigma : float, default=1.0
        Standard deviation of the Gaussian noise of the corrupted training mix.
    false_alarm_rate : float, default=0.01
        Share of clean validation rows allowed to raise a failed flag (the thresholds).
    random_state : int, RandomState or None, default=0
        Seed of the split, initialisation, shuffling and corruption.
    verbose : bool, default=False
        Show progress bars while training.

    Attributes
    ----------
    model_ : EmmaModel
        The trained model, with its deployment record (scaler, class names, thresholds).
    classes_ : ndarray
        The class labels, sorted (as `numpy.unique` sorts them).
    modes_ : dict[str, list]
        Each mode's columns, as the model reads them (names, or positions without names).
    n_features_in_ : int
        Number of columns of ``X`` in fit.
    feature_names_in_ : ndarray of str
        Column names of ``X`` in fit, when it was a DataFrame with string column names.
    history_ : DataFrame
        Per epoch of each stage: training and validation loss and scores.
    thresholds_ : Thresholds
        The calibrated failure thresholds: ``modes`` (per mode potential), ``total``.
    metrics_ : dict
        Scores on the held-out test split of the fit (clean and corrupted).
    """

    def __init__(
        self,
        modes: Mapping[str, Sequence[int | str]] | int | None = None,
        spec: Mapping[str, Any] | str | os.PathLike[str] | EmmaSpec | None = None,
        *,
        epochs: int = 30,
        base_epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 32,
        rho: float = 0.01,
        lambda_c: float = 1e-3,
        lambda_e: float = 1e-2,
        hidden: Sequence[int] = (16, 8),
        estimator_hidden: int | None = None,
        estimator_epochs: int | None = None,
        sigma: float = 1.0,
        false_alarm_rate: float = 0.01,
        random_state: int | np.random.RandomState | None = 0,
        verbose: bool = False,
    ) -> None:
        self.modes = modes
        self.spec = spec
        self.epochs = epochs
        self.base_epochs = base_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.rho = rho
        self.lambda_c = lambda_c
        self.lambda_e = lambda_e
        self.hidden = hidden
        self.estimator_hidden = estimator_hidden
        self.estimator_epochs = estimator_epochs
        self.sigma = sigma
        self.false_alarm_rate = false_alarm_rate
        self.random_state = random_state
        self.verbose = verbose

    # -- fit -------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> EmmaClassifier:
        """Train on ``X`` (DataFrame, 2-D array or dict of arrays per mode) and labels ``y``."""
        blocks = _block_layout(X, fitting=True) if _is_mode_dict(X) else None
        if blocks is not None and self.modes is not None:
            raise ValueError(
                "X is a dict of arrays per mode, so its keys are the modes: leave modes=None."
            )
        table = _stack_blocks(X, blocks, finite=True) if blocks is not None else X
        table, y = validate_data(self, table, y, dtype=np.float64, ensure_min_features=2)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"EmmaClassifier needs at least 2 classes in y; got 1 class ({classes[0]!r})."
            )
        header = _header(self, blocks)
        spec = self._build_spec(table.shape[1], header, blocks, len(classes))
        frame = pd.DataFrame(table, columns=header)
        try:
            data = as_multimodal(frame, codes.astype(np.int64), spec=spec, name="X")
            outcome = fit_model(spec, data, progress=bool(self.verbose))
        except DataError as exc:
            raise ValueError(str(exc)) from exc
        model = outcome.model
        assert model.deployment is not None
        model.deployment = model.deployment.model_copy(
            update={"class_names": [str(c) for c in classes]}
        )
        positions = {
            mode.name: [
                header.index(c) if isinstance(c, str) else int(c) for c in mode.columns or ()
            ]
            for mode in spec.modes
        }
        named = hasattr(self, "feature_names_in_")
        self.model_ = model
        self.classes_ = classes
        self.modes_ = {m: [header[c] for c in cs] if named else cs for m, cs in positions.items()}
        self._positions_ = positions
        self._blocks_ = blocks
        self.history_ = outcome.history
        self.thresholds_ = model.deployment.thresholds
        self.metrics_ = outcome.metrics
        return self

    def _seed(self) -> int:
        state = self.random_state
        if isinstance(state, numbers.Integral) and not isinstance(state, bool):
            return int(state)
        return int(check_random_state(state).randint(0, 2**31 - 1))

    def _build_spec(
        self,
        n_features: int,
        header: list[str],
        blocks: dict[str, tuple[int, ...]] | None,
        n_classes: int,
    ) -> EmmaSpec:
        out_features = 1 if n_classes == 2 else n_classes
        if self.spec is not None:
            return self._given_spec(header, blocks, out_features)
        seed = self._seed()
        estimator: dict[str, Any] = {"kind": "dae", "seed": seed}
        if self.estimator_hidden is not None:
            estimator["hidden"] = self.estimator_hidden
        if self.estimator_epochs is not None:
            estimator["epochs"] = self.estimator_epochs
        chosen = (
            _block_columns(blocks)
            if blocks is not None
            else _mode_columns(self.modes, n_features, header, hasattr(self, "feature_names_in_"))
        )
        modes: list[dict[str, Any]] = []
        for name, columns in chosen.items():
            mode: dict[str, Any] = {"name": name, "columns": columns, "estimator": dict(estimator)}
            if blocks is not None and len(blocks[name]) > 1:
                mode["shape"] = list(blocks[name])
            modes.append(mode)
        return parse_spec(
            {
                "spec_version": 1,
                "modes": modes,
                "attention": {"importance": {"kind": "boltzmann", "rho": self.rho}},
                "network": {"kind": "mlp", "hidden": [int(h) for h in self.hidden]},
                "out_features": out_features,
                "training": {
                    "seed": seed,
                    "epochs": self.epochs,
                    "base_epochs": self.base_epochs,
                    "batch_size": self.batch_size,
                    "lr": self.lr,
                    "lambda_c": self.lambda_c,
                    "lambda_e": self.lambda_e,
                    "corruption": {"sigma": self.sigma},
                    "false_alarm_rate": self.false_alarm_rate,
                },
            },
            source="EmmaClassifier",
        )

    def _given_spec(
        self, header: list[str], blocks: dict[str, tuple[int, ...]] | None, out_features: int
    ) -> EmmaSpec:
        if self.modes is not None:
            raise ValueError("give either modes or spec, not both: the spec names the modes.")
        defaults = EmmaClassifier().get_params()
        ignored = [p for p in _SPEC_REPLACES if _differs(getattr(self, p), defaults[p])]
        if ignored:
            warnings.warn(
                f"EmmaClassifier: spec is given, so {', '.join(ignored)} are ignored; set "
                "them in the spec's training section (or its components) instead.",
                UserWarning,
                stacklevel=3,
            )
        given = self.spec
        if isinstance(given, EmmaSpec):
            data = given.to_dict()
        elif isinstance(given, Mapping):
            data = copy.deepcopy(dict(given))
        elif isinstance(given, str | os.PathLike):
            data = load_spec(given).to_dict()
        else:
            raise TypeError(
                f"spec must be a dict, a path or an EmmaSpec, got {type(given).__name__}."
            )
        data["out_features"] = out_features
        data.pop("data", None)
        modes = data.get("modes")
        if not isinstance(modes, list):
            raise ValueError("the spec has no list of modes.")
        if blocks is not None:
            columns = _block_columns(blocks)
            names = [m.get("name") for m in modes if isinstance(m, Mapping)]
            if sorted(map(str, names)) != sorted(columns):
                raise ValueError(
                    f"X is keyed by the modes {sorted(columns)} but the spec has the modes "
                    f"{names}; key the arrays by the spec's mode names."
                )
            for mode in modes:
                mode.pop("field", None)
                mode["columns"] = columns[mode["name"]]
        else:
            named = hasattr(self, "feature_names_in_")
            for mode in modes:
                if mode.get("columns") is None:
                    raise ValueError(
                        f"spec mode {mode.get('name')!r} names no columns: with a table X "
                        "every mode needs columns: [names or 0-based positions]."
                    )
                mode["columns"] = _checked_columns(
                    str(mode.get("name")), mode["columns"], len(header), header, named
                )
        spec = parse_spec(data, source="EmmaClassifier spec")
        if not spec.attention.enabled:
            raise ValueError("EmmaClassifier needs attention enabled in the spec.")
        return spec

    # -- predict ---------------------------------------------------------------------------
    def _outputs(self, X: Any) -> dict[str, NDArray[Any]]:
        """`RawInputModel`'s outputs for ``X``, in float64 (rows independent of the batch)."""
        check_is_fitted(self)
        blocks = self._blocks_
        if _is_mode_dict(X):
            if blocks is None:
                raise ValueError("the model was fitted on a table: pass a table, not a dict.")
            _block_layout(X, fitting=False, expected=blocks)
            X = _stack_blocks(X, blocks, finite=False)
        table = validate_data(self, X, dtype=np.float64, reset=False, ensure_all_finite=False)
        raw = RawInputModel(copy.deepcopy(self.model_).double()).eval()
        shapes = self.model_.mode_shapes
        positions = [self._positions_[name] for name in raw.mode_names]
        parts: list[tuple[torch.Tensor, ...]] = []
        with torch.no_grad():
            for start in range(0, len(table), PREDICT_BATCH):
                rows = torch.tensor(table[start : start + PREDICT_BATCH], dtype=torch.float64)
                modes = [
                    rows[:, index].reshape(len(rows), *shape)
                    for index, shape in zip(positions, shapes, strict=True)
                ]
                parts.append(raw(modes))
        return {name: torch.cat([p[i] for p in parts]).numpy() for i, name in enumerate(OUTPUTS)}

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Class probabilities ``[N, n_classes]``, columns in `classes_` order."""
        return self._outputs(X)["probabilities"]

    def predict(self, X: Any) -> NDArray[Any]:
        """The most probable class of each row, as one of the original labels."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """The network's logits: ``[N]`` (the positive class) for two classes, else ``[N, K]``."""
        check_is_fitted(self)
        logits = self._outputs(X)["output"]
        return logits[:, 0] if len(self.classes_) == 2 else logits

    def score_samples(self, X: Any) -> NDArray[np.float64]:
        """Negative total energy of each row: higher means more typical of the training data."""
        return -self._outputs(X)["total_energy"]

    def failures(self, X: Any) -> pd.DataFrame:
        """Per row: ``<mode>_potential``, ``_importance``, ``_attention``, ``_failed`` for each
        mode, then ``total_energy`` and ``uncertain`` (the columns ``emma predict`` writes).

        A mode is failed when its potential exceeds its calibrated threshold or a reading is
        NaN, infinite or far outside the training range; ``uncertain`` when any mode failed
        or the total energy exceeds its threshold.
        """
        out = self._outputs(X)
        columns: dict[str, Any] = {}
        for i, mode in enumerate(self.model_.mode_names):
            columns[f"{mode}_potential"] = out["potential"][:, i]
            columns[f"{mode}_importance"] = out["importance"][:, i]
            columns[f"{mode}_attention"] = out["attention"][:, i]
            columns[f"{mode}_failed"] = out["failed"][:, i]
        columns["total_energy"] = out["total_energy"]
        columns["uncertain"] = out["uncertain"]
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(columns, index=index)

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write a model directory: the model (as `EmmaModel.save_pretrained` writes it, so
        ``emma predict`` reads it), plus the labels, modes and history of this estimator."""
        check_is_fitted(self)
        state = {
            "format": 1,
            "params": _jsonable(self.get_params() | {"spec": None}),
            "classes": self.classes_.tolist(),
            "classes_dtype": self.classes_.dtype.str if self.classes_.dtype.kind != "O" else "O",
            "modes": self.modes_,
            "positions": self._positions_,
            "blocks": None
            if self._blocks_ is None
            else {m: list(s) for m, s in self._blocks_.items()},
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": (
                self.feature_names_in_.tolist() if hasattr(self, "feature_names_in_") else None
            ),
            "metrics": self.metrics_,
        }
        extras = {
            ESTIMATOR_FILE: (json.dumps(state, indent=2) + "\n").encode(),
            HISTORY_FILE: self.history_.to_csv(index=False).encode(),
        }
        return save(self.model_, directory, extras=extras)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> EmmaClassifier:
        """The fitted estimator `save` wrote to ``directory``."""
        model = EmmaModel.from_pretrained(directory)
        state = json.loads(read_extra(directory, ESTIMATOR_FILE))
        history = pd.read_csv(io.BytesIO(read_extra(directory, HISTORY_FILE)))
        params = dict(state["params"])
        if isinstance(params.get("hidden"), list):
            params["hidden"] = tuple(params["hidden"])
        estimator = cls(**params)
        estimator.model_ = model
        estimator.classes_ = np.asarray(state["classes"], dtype=np.dtype(state["classes_dtype"]))
        estimator.modes_ = state["modes"]
        estimator._positions_ = state["positions"]
        blocks = state["blocks"]
        estimator._blocks_ = None if blocks is None else {m: tuple(s) for m, s in blocks.items()}
        estimator.n_features_in_ = state["n_features_in"]
        if state["feature_names_in"] is not None:
            estimator.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        estimator.history_ = history
        assert model.deployment is not None
        estimator.thresholds_ = model.deployment.thresholds
        estimator.metrics_ = state["metrics"]
        return estimator

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without pickling the model's classes: its spec, weights and deployment
        record (the spec's validating class is made at run time and cannot be pickled)."""
        state = dict(super().__getstate__())
        if isinstance(state.get("spec"), EmmaSpec):
            state["spec"] = _PickledSpec(state["spec"].to_dict())
        model = state.pop("model_", None)
        if model is not None:
            state["model_"] = _PickledModel(
                model.spec.to_dict(),
                {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                None if model.deployment is None else model.deployment.model_dump_json(),
            )
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if isinstance(state.get("spec"), _PickledSpec):
            state["spec"] = parse_spec(state["spec"].spec)
        if isinstance(state.get("model_"), _PickledModel):
            state["model_"] = state["model_"].rebuild()
        super().__setstate__(state)


__all__ = ["ESTIMATOR_FILE", "EXPECTED_FAILED_CHECKS", "EmmaClassifier"]
