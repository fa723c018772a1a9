"""From a spec to the grid's results: the grid from the spec, run, write the outputs."""

from __future__ import annotations

from pathlib import Path

from emma_lab.grid.search import LOG_NAME, GridResult, run_grid
from emma_lab.report.grid_report import write_grid_outputs
from emma_lab.spec import GridSpec, evaluation_of
from emma_plugins.core.errors import SpecError
from emma_plugins.deploy.data import load_spec_data
from emma_plugins.spec import EmmaSpec


def grid_of(spec: EmmaSpec) -> GridSpec:
    """The spec's ``evaluation.grid`` (validation checked it against the spec), else the
    thesis' grid, checked now: every rho must be valid for the spec's importance kind."""
    grid = evaluation_of(spec).grid
    if grid is not None:
        return grid
    grid = GridSpec()
    issues = [f"evaluation.{issue}" for issue in grid.issues(spec)]
    if issues:
        raise SpecError("the thesis' grid does not fit the spec:\n  " + "\n  ".join(issues))
    return grid


def run_grid_spec(
    spec: EmmaSpec,
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    grid: GridSpec | None = None,
    scheduler: str | None = None,
    stack: bool = True,
) -> tuple[GridResult, dict[str, Path]]:
    """What ``emma grid`` does: run (or resume) the spec's grid and write its outputs.

    ``grid`` replaces the spec's grid; ``workers`` replaces the grid's worker count.
    ``scheduler`` (``tcp://host:port`` or ``local:N``) runs the jobs on a Dask cluster,
    whose workers load the data from the spec with ``data_dir`` (`emma_lab.cluster`).
    ``stack=False`` trains every configuration alone instead of stacked.
    """
    if workers is not None and workers < 1:
        raise SpecError(f"--workers must be at least 1 (got {workers}).")
    grid = grid or grid_of(spec)
    data = load_spec_data(spec, data_dir)
    result = run_grid(
        spec,
        data,
        out_dir,
        grid=grid,
        workers=workers,
        progress=progress,
        scheduler=scheduler,
        data_dir=data_dir,
        stack=stack,
    )
    training = spec.resolved_training
    corruption = training.corruption
    setup = {
        "data set": f"{data.name} ({len(data)} samples)",
        "configurations": f"{len(grid.rho) * len(grid.lambda_e) * len(grid.lambda_c)} "
        "(rho x lambda_e x lambda_c)",
        "selection seed": grid.selection_seed,
        "rerun seeds": grid.rerun_seeds,
        "epochs (base / stage 2)": f"{training.base_epochs} / {training.epochs}",
        "batch size, learning rate": f"{training.batch_size}, {training.lr}",
        "training corruption": f"{corruption.clean_fraction:.0%} clean, the rest split evenly "
        f"over one-mode Gaussian noise sigma={corruption.sigma}",
    }
    paths = write_grid_outputs(result, out_dir, setup=setup)
    paths["log"] = Path(out_dir) / LOG_NAME
    return result, paths
