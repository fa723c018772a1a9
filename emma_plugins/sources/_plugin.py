"""Registers the built-in data set: scikit-learn's bundled breast-cancer data (no download)."""

from __future__ import annotations

from emma_plugins.core.hookspecs import Register, hookimpl
from emma_plugins.sources.breast_cancer import load_breast_cancer


@hookimpl
def register_datasets(register: Register) -> None:
    register("breast_cancer", load_breast_cancer)
