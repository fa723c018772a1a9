"""`EmmaClassifier`: EMMA as a scikit-learn classifier (``fit``, ``predict``, pipelines, search).

The estimator builds a spec from its parameters (one ``dae`` energy estimator per mode, an
``mlp`` network, Boltzmann importance), turns ``X`` and ``y`` into the spec's modes and
trains with `emma_plugins.deploy.fit_model`, as ``emma fit`` does: the rows are split
stratified 67 / 16.5 / 16.5 into train, validation and test, standardized on train, the
estimators, the base network and EMMA are trained, and the failure thresholds calibrated
on the validation rows. Prediction goes through `RawInputModel`, so a NaN, infinite or
absurd reading at predict time masks its mode and flags it failed instead of failing.

Modes map to columns: ``modes={"vitals": ["hr", "bp"], "lab": [3, 4, 5]}`` (column names
of a DataFrame or 0-based positions); an int ``k`` cuts the columns into ``k`` contiguous,
nearly equal blocks; ``None`` into two. ``X`` may also be a dict of arrays, one per mode.

`EXPECTED_FAILED_CHECKS` lists the scikit-learn estimator checks this estimator fails on
purpose, each with its reason (``docs/sklearn.md``).
"""

from emma_plugins.sklearn.classifier import ESTIMATOR_FILE, EXPECTED_FAILED_CHECKS, EmmaClassifier

__all__ = ["ESTIMATOR_FILE", "EXPECTED_FAILED_CHECKS", "EmmaClassifier"]
