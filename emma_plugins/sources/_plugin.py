"""Registers the built-in data sets: scikit-learn's bundled breast-cancer data (no download)
and ``table``, the practitioner's own table file."""

from __future__ import annotations

from emma_plugins.core.hookspecs import Register, hookimpl
from emma_plugins.sources.breast_cancer import load_breast_cancer
from emma_plugins.sources.table import TableParams, load_table


@hookimpl
def register_datasets(register: Register) -> None:
    register("breast_cancer", load_breast_cancer)
    register("table", load_table, TableParams)
