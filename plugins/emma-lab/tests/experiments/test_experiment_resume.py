"""``emma run --resume``: finished seeds are loaded, the others trained; the results equal an
uninterrupted run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from _small_run import SPEC
from emma_lab.experiments import comparison
from emma_lab.experiments.runner import run_spec
from emma_lab.experiments.seeds import SeedStore

from emma_plugins.spec import parse_spec


class Killed(Exception):
    """Stands for the process dying right after a seed was saved."""


def test_a_resumed_run_trains_only_the_unfinished_seeds_and_ends_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_spec(SPEC)
    whole, _ = run_spec(spec, tmp_path / "whole", progress=False)

    original_save = SeedStore.save

    def die_after_seed_one(self: SeedStore, seed: int, outcome: Any) -> None:
        original_save(self, seed, outcome)
        if seed == 1:
            raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(SeedStore, "save", die_after_seed_one)
        with pytest.raises(Killed):
            run_spec(spec, tmp_path / "cut", progress=False)
    trained: list[int] = []
    original_run_seed = comparison.run_seed

    def counting(experiment: Any, data: Any) -> Any:
        trained.append(data.seed)
        return original_run_seed(experiment, data)

    monkeypatch.setattr(comparison, "run_seed", counting)
    resumed, _ = run_spec(spec, tmp_path / "cut", progress=False, resume=True)
    assert trained == [2]
    pd.testing.assert_frame_equal(resumed.scores, whole.scores)
    tables = sorted((tmp_path / "whole" / "analyses").rglob("*.csv"))
    assert tables  # the analyses saw the loaded seeds too, and agree
    for reference in tables:
        file = tmp_path / "cut" / reference.relative_to(tmp_path / "whole")
        pd.testing.assert_frame_equal(pd.read_csv(file), pd.read_csv(reference))


@pytest.mark.slow
def test_emma_run_killed_between_seeds_resumes(tmp_path: Path) -> None:
    spec = tmp_path / "bc.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    out = tmp_path / "run"
    command = [sys.executable, "-m", "emma_plugins", "run", str(spec), "--out", str(out)]
    process = subprocess.Popen([*command, "--no-progress"], env=os.environ.copy())
    deadline = time.monotonic() + 300
    marker = out / "checkpoints" / "seed0.json"
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done = subprocess.run([*command, "--resume", "--no-progress"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "checkpoints" / "seed2.json").is_file()
    assert '"status": "complete"' in (out / "run.json").read_text()


def test_seeds_of_another_spec_are_refused_not_reused(tmp_path: Path) -> None:
    from emma_plugins.core.errors import CheckpointError

    run_spec(parse_spec(SPEC), tmp_path, progress=False, seeds=[0])
    other = {**SPEC, "training": {**SPEC["training"], "epochs": 3}}
    with pytest.raises(CheckpointError, match="seed 0 was trained for another spec"):
        run_spec(parse_spec(other), tmp_path, progress=False, seeds=[0], resume=True)
