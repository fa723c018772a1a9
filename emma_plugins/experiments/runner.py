"""From a spec to results: load the data, build the models per seed, run, write the outputs."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..builder import build
from ..data import MultiModalData
from ..errors import SpecError
from ..model import EmmaModel
from ..plugins import get_registry
from ..report.atomic import write_atomic
from ..report.table_report import write_table_outputs
from ..spec import EmmaSpec, parse_spec
from .table import ModelFactory, TableConfig, TableResult, Variant, run_table


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` merged in, recursively for nested mappings; neither is changed.

    A patch that changes a component's ``kind`` replaces the component whole, so the old
    kind's parameters do not leak into the new one.
    """
    merged = copy.deepcopy(dict(base))
    for key, value in patch.items():
        old = merged.get(key)
        same_kind = not (
            isinstance(value, Mapping)
            and "kind" in value
            and isinstance(old, Mapping)
            and old.get("kind") != value["kind"]
        )
        if isinstance(value, Mapping) and isinstance(old, Mapping) and same_kind:
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def model_factory(spec: EmmaSpec) -> ModelFactory:
    """Models of one spec: bare (``patch=None``) or with an attention patch, seeded per run.

    The estimators' ``seed`` parameter, where a kind has one, follows the experiment seed so
    that seeds differ in the estimators too.
    """
    base = spec.to_dict()
    estimators = get_registry("estimator")

    def factory(patch: Mapping[str, Any] | None, seed: int) -> EmmaModel:
        attention = {"enabled": False} if patch is None else {"enabled": True, **patch}
        data = deep_merge(base, {"attention": attention})
        for mode in data["modes"]:
            params = estimators.get(mode["estimator"]["kind"]).params
            if "seed" in params.model_fields:
                mode["estimator"]["seed"] = seed
        return build(parse_spec(data))

    return factory


def select_modes(data: MultiModalData, spec: EmmaSpec) -> MultiModalData:
    """The data set's columns arranged as the spec's modes (by field, columns, or name)."""
    modes: dict[str, list[str]] = {}
    columns = [str(c) for c in data.features.columns]
    for mode in spec.modes:
        if mode.columns is not None:
            chosen = [columns[c] if isinstance(c, int) else str(c) for c in mode.columns]
        else:
            source = mode.field or mode.name
            if source not in data.modes:
                raise SpecError(
                    f"mode {mode.name!r}: data set {data.name!r} has no mode {source!r}; "
                    f"its modes are {', '.join(data.modes)}. Set field: or columns: on the mode."
                )
            chosen = data.modes[source]
        if len(chosen) != mode.size:
            raise SpecError(
                f"mode {mode.name!r} declares {mode.size} values per sample but the data set "
                f"gives {len(chosen)} columns for it."
            )
        modes[mode.name] = chosen
    used = [c for names in modes.values() for c in names]
    return MultiModalData(
        data.name,
        data.features[used],
        data.target,
        modes,
        data.task,
        data.n_classes,
        data.description,
    )


def write_json(path: Path, payload: Any) -> Path:
    return write_atomic(
        path, lambda h: h.write(json.dumps(payload, indent=2, default=str).encode())
    )


def run_table_experiment(
    spec: EmmaSpec,
    data: MultiModalData,
    config: TableConfig,
    out_dir: str | Path,
    *,
    variants: list[Variant] | None = None,
    title: str = "Robustness to one failing mode",
) -> tuple[TableResult, dict[str, Path]]:
    """Experiment 1 from a spec: run it and write results, figures, report and resolved spec."""
    data = select_modes(data, spec)
    result = run_table(model_factory(spec), data, list(spec.mode_names), config, variants)
    out = Path(out_dir)
    setup = {
        "data set": f"{data.name} ({len(data)} samples, modes: "
        + ", ".join(f"{m} [{len(c)}]" for m, c in data.modes.items())
        + ")",
        "seeds": config.seeds,
        "training corruption": f"{config.clean_fraction:.0%} clean, the rest split evenly over "
        f"one-mode Gaussian noise sigma={config.sigma}",
        "epochs (base / stage 2)": f"{config.base_epochs} / {config.epochs}",
        "regularizers": f"lambda_c={config.lambda_c}, lambda_e={config.lambda_e}",
        "annealing": config.anneal,
        "variants": ", ".join(v.name for v in variants or []) or "none",
    }
    paths = write_table_outputs(
        result, out, title=title, setup=setup, extra={"config": asdict(config)}
    )
    paths["spec"] = write_json(out / "spec.json", spec.to_dict())
    return result, paths
