"""From a spec to the grid's results: settings from the spec, run, write the outputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from emma_plugins.core.errors import SpecError
from emma_lab.report.grid_report import write_grid_outputs
from emma_lab.spec import GridSpec, evaluation_of
from emma_plugins.spec import EmmaSpec, parse_spec
from emma_lab.grid.search import LOG_NAME, GridConfig, GridResult, grid_points, run_grid
from emma_lab.experiments.runner import deep_merge, load_data, table_config


def grid_config(spec: EmmaSpec, *, workers: int | None = None, progress: bool = True) -> GridConfig:
    """The grid of ``evaluation.grid`` (the thesis' when absent), checked against the spec:
    every rho must be valid for the spec's importance kind."""
    grid = evaluation_of(spec).grid or GridSpec()
    base = spec.to_dict()
    for rho in grid.rho:
        try:
            parse_spec(deep_merge(base, {"attention": {"importance": {"rho": rho}}}))
        except SpecError as exc:
            raise SpecError(
                f"evaluation.grid.rho: {rho:g} does not fit the spec's importance stage "
                f"(the grid sets attention.importance.rho): {exc}"
            ) from None
    if workers is not None and workers < 1:
        raise SpecError(f"--workers must be at least 1 (got {workers}).")
    return GridConfig(
        points=grid_points(grid.rho, grid.lambda_e, grid.lambda_c),
        table=table_config(spec, progress=False),
        top=grid.top,
        rerun_seeds=list(grid.rerun_seeds),
        selection_seed=grid.selection_seed,
        workers=workers or grid.workers,
        progress=progress,
    )


def run_grid_spec(
    spec: EmmaSpec,
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    config: GridConfig | None = None,
) -> tuple[GridResult, dict[str, Path]]:
    """What ``emma grid`` does: run (or resume) the spec's grid and write its outputs.

    ``config`` replaces the settings taken from the spec (``workers`` still applies).
    """
    config = config or grid_config(spec, workers=workers, progress=progress)
    if workers is not None:
        config = replace(config, workers=workers)
    data = load_data(spec, data_dir)
    result = run_grid(spec, data, config, out_dir)
    table = config.table
    setup = {
        "data set": f"{data.name} ({len(data)} samples)",
        "configurations": f"{len(config.points)} (rho x lambda_e x lambda_c)",
        "selection seed": config.selection_seed,
        "rerun seeds": config.rerun_seeds,
        "epochs (base / stage 2)": f"{table.base_epochs} / {table.epochs}",
        "batch size, learning rate": f"{table.batch_size}, {table.lr}",
        "training corruption": f"{table.clean_fraction:.0%} clean, the rest split evenly over "
        f"one-mode Gaussian noise sigma={table.sigma}",
    }
    paths = write_grid_outputs(result, out_dir, setup=setup)
    paths["log"] = Path(out_dir) / LOG_NAME
    return result, paths
