"""``emma run`` and ``emma bench robustness`` with ``--scheduler local:2``: the seeds train on
a Dask cluster whose workers load the data themselves, with the in-process results."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from _small_run import SPEC

from emma_plugins.cli import main

pytest.importorskip("distributed")


@pytest.mark.slow
def test_emma_run_on_a_local_cluster_matches_the_in_process_run(tmp_path: Path) -> None:
    spec = tmp_path / "bc.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    here, there = tmp_path / "here", tmp_path / "there"
    assert main(["run", str(spec), "--out", str(here), "--no-progress"]) == 0
    assert (
        main(["run", str(spec), "--out", str(there), "--no-progress", "--scheduler", "local:2"])
        == 0
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(there / "results.csv"), pd.read_csv(here / "results.csv")
    )
    assert (there / "checkpoints" / "seed2.json").is_file()  # kept, so --resume works


@pytest.mark.slow
def test_emma_bench_on_a_local_cluster_matches_the_in_process_run(tmp_path: Path) -> None:
    common = ["bench", "robustness", "--datasets", "breast_cancer", "--quick", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "here")]) == 0
    assert main([*common, "--out", str(tmp_path / "there"), "--scheduler", "local:2"]) == 0
    scores = "breast_cancer/scores.csv"
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "there" / scores), pd.read_csv(tmp_path / "here" / scores)
    )
    assert len((tmp_path / "there" / "breast_cancer" / "seeds.jsonl").read_text().splitlines()) == 2
