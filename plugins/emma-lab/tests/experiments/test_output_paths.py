"""Paths the lab builds from spec values (model names, data set names) stay inside the
output directory, whatever the spec's own validation let through."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from emma_lab.experiments import seeds as seeds_module
from emma_lab.robustness.report import write_dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emma_plugins.rundir import OutputDirError

HOSTILE = st.one_of(
    st.sampled_from(["../evil", "../../etc/passwd", "/abs", "..", "a/../../b", "x\x00y"]),
    st.lists(st.sampled_from(["..", "/", ".", "a", "\\", "~", "emma[", "]"]), max_size=6).map(
        "".join
    ),
    st.text(max_size=16),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=HOSTILE)
def test_checkpoint_folders_stay_inside_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    saved: list[Path] = []
    monkeypatch.setattr(seeds_module, "save", lambda model, path: saved.append(Path(path)))
    directory = tmp_path / "run" / "checkpoints"
    store = seeds_module.SeedStore(directory)
    outcome: Any = SimpleNamespace(
        models={name: object()}, scores=[], diagnostics=[], thresholds={}
    )
    try:
        store.save(0, outcome)
    except OutputDirError as exc:
        assert "refusing the path" in str(exc)
        assert saved == []
        return
    (path,) = saved
    assert path.resolve().is_relative_to(directory.resolve())
    assert path.resolve() != directory.resolve()


@pytest.mark.parametrize("name", ["../outside", "/tmp/elsewhere", "..", "a/../../b"])
def test_a_bench_name_cannot_leave_the_report_directory(tmp_path: Path, name: str) -> None:
    out = tmp_path / "bench"
    result: Any = SimpleNamespace(name=name)
    with pytest.raises(OutputDirError, match="refusing the path"):
        write_dataset(result, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
