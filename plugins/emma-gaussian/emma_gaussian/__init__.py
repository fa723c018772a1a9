"""emma-gaussian: registers the ``gaussian`` energy estimator with emma-plugins."""

from __future__ import annotations

from emma_plugins import Register, hookimpl

from .estimator import GaussianEstimator, GaussianParams

__all__ = ["GaussianEstimator", "GaussianParams", "register_estimators"]


@hookimpl
def register_estimators(register: Register) -> None:
    register("gaussian", GaussianEstimator, GaussianParams)
