"""Training on two processes (gloo on the CPU) equals one process on the same global batches;
``torchrun`` runs ``emma fit``; a process that dies takes the others down, never hangs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from _deploy_samples import small_spec

from emma_plugins import build, parse_spec
from emma_plugins.sources import load_breast_cancer
from emma_plugins.training.distributed import ProcessGroup, from_environment
from emma_plugins.training.loop import FitConfig, fit
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.prepare import prepare

SPEC = small_spec(balanced_loss=False, lambda_c=0.01, lambda_e=0.01)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stage_two(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Stage 2 (EMMA plus the network on the corrupted mix) from ``state``, 3 epochs."""
    spec = parse_spec(SPEC)
    training = spec.resolved_training
    data = prepare(load_breast_cancer(), spec.mode_names, seed=0, corruption=training.corruption)
    model = build(spec)
    model.load_state_dict(state)
    model.attention.estimators.requires_grad_(False)
    model.attention.calibrate_()
    loss = ClassificationLoss(data.clean["train"].y, 2, balanced=False)
    config = FitConfig(
        epochs=3, batch_size=32, lr=0.01, lambda_c=0.01, lambda_e=0.01, progress=False
    )
    fit(model, data.mixed["train"], data.mixed["val"], loss, config)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def worker(rank: int, port: int, state_file: str, out_file: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2"
    )
    torch.set_num_threads(1)
    with from_environment(torch.device("cpu")) as group:
        assert isinstance(group, ProcessGroup) and group.world_size == 2
        result = stage_two(torch.load(state_file, weights_only=True))
    if rank == 0:
        torch.save(result, out_file)


def test_two_processes_train_as_one_on_the_same_global_batches(tmp_path: Path) -> None:
    spec = parse_spec(SPEC)
    torch.manual_seed(0)
    model = build(spec)
    data = prepare(
        load_breast_cancer(), spec.mode_names, seed=0, corruption=spec.resolved_training.corruption
    )
    model.fit_estimators(data.clean["train"].modes, progress=False)
    state = model.state_dict()
    torch.save(state, tmp_path / "state.pt")
    torch.multiprocessing.spawn(
        worker,
        args=(free_port(), str(tmp_path / "state.pt"), str(tmp_path / "ddp.pt")),
        nprocs=2,
        join=True,
    )
    expected = stage_two(state)
    got = torch.load(tmp_path / "ddp.pt", weights_only=True)
    moved = [k for k in expected if not torch.equal(expected[k], state[k])]
    assert moved  # training changed the network and the attention
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=1e-5, msg=key)


def torchrun(*args: str, nproc: int = 2) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
        f"--master-port={free_port()}", "-m", "emma_plugins", *args,
    ]  # fmt: skip


@pytest.mark.slow
def test_emma_fit_under_torchrun_writes_one_model_directory_and_resumes(tmp_path: Path) -> None:
    spec = tmp_path / "bc.yaml"
    spec.write_text(yaml.safe_dump(small_spec(balanced_loss=False)))
    out = tmp_path / "model"
    command = torchrun("fit", str(spec), "--out", str(out), "--device", "cpu", "--no-progress")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("model directory:") == 1  # rank 0 alone reports and writes
    assert (out / "deployment.json").is_file()
    again = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]


@pytest.mark.slow
def test_a_process_that_dies_stops_the_others_with_an_error(tmp_path: Path) -> None:
    spec = tmp_path / "bc.yaml"
    spec.write_text(yaml.safe_dump(small_spec(epochs=200, base_epochs=1)))
    out = tmp_path / "model"
    launcher = subprocess.Popen(
        torchrun("fit", str(spec), "--out", str(out), "--device", "cpu", "--no-progress"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "progress" / "emma.state.pt").exists():
            assert time.monotonic() < deadline and launcher.poll() is None
            time.sleep(0.1)
        workers = subprocess.run(
            ["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(workers) == 2
        os.kill(int(workers[-1]), signal.SIGKILL)
        started = time.monotonic()
        code = launcher.wait(timeout=90)
        assert code != 0
        assert time.monotonic() - started < 90
        survivors = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True)
        assert survivors.stdout.strip() == b""
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
