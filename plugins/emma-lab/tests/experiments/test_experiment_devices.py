"""Where the experiment runs: the spec's ``training.device`` (``--device``) reaches every
seed's tensors and models, and the evaluation helpers keep their tensors on the split's
device.

This machine may have no GPU, so the ``meta`` device stands in for another device where
no values are needed: torch refuses to mix a meta tensor with a CPU one, so a helper that
builds a tensor on the CPU and combines it with the split's fails here as it would on
CUDA. Training and scoring on a real GPU are exercised by ``benchmarks/gpu_check.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _benchmark_samples import breast_cancer_bench
from _experiment_samples import small_data, tiny_experiment, tiny_spec
from emma_lab.analyses.common import subsample
from emma_lab.experiments import comparison
from emma_lab.experiments.comparison import Experiment, seeded_model
from emma_lab.experiments.protocol import SeedData, noise_grid, prepare_seed
from emma_lab.robustness.protocol import build_conditions

from emma_plugins.commands.arguments import with_device
from emma_plugins.training.devices import DeviceError

MODES = ["mean", "error", "worst"]
META = torch.device("meta")


def _tensors(data: SeedData) -> list[torch.Tensor]:
    parts = [*data.clean.values(), *data.mixed.values()]
    found = [t for part in parts for t in (*part.modes, part.y, part.missing, part.xi)]
    return found + list(data.mixed_group.values())


def _seed_data() -> SeedData:
    return prepare_seed(small_data(), MODES, seed=0, sigma=0.5)


def test_the_experiment_runs_on_the_specs_device() -> None:
    assert tiny_experiment().device == torch.device("cpu")  # auto on a machine without a GPU
    assert tiny_experiment(with_device(tiny_spec(), "cpu")).device == torch.device("cpu")
    assert tiny_experiment(device="meta").device == META  # an explicit device wins


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_device_the_machine_lacks_is_refused_before_anything_trains() -> None:
    with pytest.raises(DeviceError, match="CUDA is not available"):
        Experiment.from_spec(with_device(tiny_spec(), "cuda"))


def test_prepare_moves_every_tensor_of_a_seed_to_the_device() -> None:
    experiment = tiny_experiment(device="meta")
    data = experiment.prepare(small_data(), 0)
    assert data.device == META
    assert {t.device for t in _tensors(data)} == {META}
    cpu = _seed_data()
    assert cpu.to("cpu") is cpu  # already there: the same object, nothing copied
    moved = cpu.to(META)
    assert [t.shape for t in _tensors(moved)] == [t.shape for t in _tensors(cpu)]
    assert moved.seed == cpu.seed and moved.n_classes == cpu.n_classes


def test_models_are_built_on_the_cpu_and_moved() -> None:
    spec = tiny_spec()
    torch.manual_seed(0)
    on_cpu = seeded_model(spec, 0)
    torch.manual_seed(0)
    on_meta = seeded_model(spec, 0, "meta")
    assert {p.device for p in on_cpu.parameters()} == {torch.device("cpu")}
    assert {p.device for p in on_meta.parameters()} == {META}
    names = [name for name, _ in on_cpu.named_parameters()]
    assert names == [name for name, _ in on_meta.named_parameters()]


def test_training_follows_the_seeds_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every model of a seed is asked for on the device of that seed's tensors."""
    asked: list[torch.device | str | None] = []
    original = comparison.seeded_model

    def record(spec, seed, device=None):  # type: ignore[no-untyped-def]
        asked.append(device)
        return original(spec, seed, device)

    monkeypatch.setattr(comparison, "seeded_model", record)
    experiment = tiny_experiment(device="cpu")
    outcome = comparison.run_seed(experiment, experiment.prepare(small_data(), 0))
    assert asked and set(asked) == {torch.device("cpu")}
    for model in outcome.models.values():
        assert {p.device for p in model.parameters()} == {torch.device("cpu")}


def test_evaluation_copies_stay_on_the_splits_device() -> None:
    data = _seed_data().to(META)
    test = data.clean["test"]
    grid = noise_grid(test, np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), seed=1)
    assert len(grid) == 2 * len(test)
    assert {m.device for m in grid.modes} | {grid.y.device, grid.xi.device} == {META}
    part = subsample(test, 10, seed=0)
    assert len(part) == 10 and part.y.device == META


def test_benchmark_noise_sweeps_stay_on_the_splits_device() -> None:
    # the corruption schemes read the labels (stratified), which a meta tensor lacks: the
    # noise sweeps only (the schemes return their copies on the split's device themselves)
    bench = breast_cancer_bench(ood=None, missing=False, multi_mode=None)
    data = _seed_data().to(META)
    conditions = build_conditions(data, bench.protocol)
    assert len(conditions) > 1
    for condition in conditions:
        split = condition.split
        assert {m.device for m in split.modes} | {split.y.device, split.missing.device} == {META}


def test_the_noise_is_drawn_on_the_cpu_from_the_seed() -> None:
    """The noise of a grid comes from the seed's CPU generator, whatever the split's device:
    the grid on the CPU equals a CPU draw added by hand."""
    test = _seed_data().clean["test"]
    grid = noise_grid(test, np.array([[2.0, 0.0, 0.0]]), seed=5)
    noise = torch.randn(test.modes[0].shape, generator=torch.Generator().manual_seed(5))
    assert torch.equal(grid.modes[0], test.modes[0] + 2.0 * noise)
