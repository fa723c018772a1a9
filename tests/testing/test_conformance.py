"""Every check of the conformance kits, over every installed kind of every family.

A new built-in (or installed plugin) kind is covered here without a new test. The negative
controls register one deliberately broken kind per family and make sure its kit fails it,
with a message that says what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import Tensor, nn

from emma_plugins import EnergyEstimator, hookimpl
from emma_plugins.core.plugins import FAMILIES, plugin_host
from emma_plugins.corruptions import Corruption, CorruptionContext
from emma_plugins.sources import MultiModalData
from emma_plugins.testing import (
    KITS,
    KindRef,
    check_correction,
    check_corruption,
    check_cross_modal,
    check_dataset,
    check_endogenous,
    check_gate,
    check_importance,
    check_modal_energy,
    check_network,
    kind_checks,
    parametrize_with_checks,
    registered_kinds,
)
from emma_plugins.testing.endogenous import mode_samples


@parametrize_with_checks(provider="emma-plugins")
def test_every_builtin_kind_passes_every_check(kind: KindRef, check: Any) -> None:
    check(kind)


@pytest.mark.parametrize("provider", ["emma-cnn", "emma-lstm", "emma-gaussian"])
def test_every_kind_of_the_estimator_distributions_passes_every_check(provider: str) -> None:
    pairs = list(kind_checks(provider=provider))
    assert pairs, f"{provider} registers no kind: is it installed?"
    for kind, check in pairs:
        check(kind)


def test_every_family_has_a_kit_and_kinds() -> None:
    assert list(KITS) == list(FAMILIES)
    families = {ref.family for ref in registered_kinds()}
    assert families == set(FAMILIES)


def test_ids_are_readable_and_kinds_can_be_chosen() -> None:
    pairs = list(kind_checks("gate", kinds=["identity"]))
    ids = [f"{ref}-{check.name}" for ref, check in pairs]
    assert ids[:3] == [
        "gate:identity-check_params_model",
        "gate:identity-check_contract",
        "gate:identity-check_gate_output",
    ]
    assert {ref for ref, _ in kind_checks(kinds=["gate:identity", "network:mlp"])} == {
        KindRef("gate", "identity"),
        KindRef("network", "mlp"),
    }
    with pytest.raises(ValueError, match="name the family"):
        list(kind_checks(kinds=["identity"]))


# -- deliberately broken kinds, one per family -------------------------------------------------
class BatchMean(EnergyEstimator):
    """The original code's bug: the potential of a sample depends on its batch."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("center", torch.zeros(math.prod(shape)))

    def potential(self, x: Tensor) -> Tensor:
        flat = x.flatten(1)
        return 0.5 * (flat - flat.mean(dim=0)).square().sum(dim=1) + 0 * self.center.sum()

    def _fit(self, x: Tensor, progress: bool) -> None:
        self.center.copy_(x.flatten(1).mean(dim=0))


class NoShift(nn.Module):
    """A correction that forgets to shift: potentials below e reach the modal energies."""

    def __init__(self, n_modes: int) -> None:
        super().__init__()

    def forward(self, scores: Tensor) -> Tensor:
        return scores.clone()


class AllModesEnergy(nn.Module):
    """Couples every mode, missing ones included."""

    def __init__(self, n_modes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_modes))

    def forward(self, potential: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
        energy = self.weight * potential
        return energy, energy + energy.mean(dim=1, keepdim=True)


class Unnormalised(nn.Module):
    """Log importance that is not normalised over the present modes."""

    def __init__(self, n_modes: int) -> None:
        super().__init__()
        self.rho = 1.0

    def forward(self, modal_energy: Tensor, present: Tensor) -> Tensor:
        return -self.rho * modal_energy

    @property
    def coldness(self) -> float:
        return self.rho

    def set_coldness(self, rho: float) -> None:
        self.rho = rho


class Amplifier(nn.Module):
    """A gate whose attention leaves [0, 1]."""

    def __init__(self, n_modes: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(2.0))

    def forward(self, importance: Tensor) -> Tensor:
        return self.gain * importance + 0.5

    def capacity(self) -> Tensor:
        return self.gain.detach()

    effective_capacity = capacity

    def capacity_penalty(self) -> Tensor:
        return self.gain


class FlatMasks(nn.Module):
    """One mask value per sample instead of a mask shaped like the mode."""

    def __init__(self, n_modes: int, mode_shapes: Sequence[tuple[int, ...]]) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, modes: Sequence[Tensor]) -> list[Tensor]:
        return [torch.sigmoid(x.flatten(1).mean(dim=1, keepdim=True) + self.bias) for x in modes]


class MeanOfAllModes(nn.Module):
    """Cross-modal mixing that reads missing modes too."""

    def __init__(self, n_modes: int, mode_shapes: Sequence[tuple[int, ...]]) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))

    def forward(self, modes: Sequence[Tensor], present: Tensor) -> list[Tensor]:
        shared = torch.stack([x.flatten(1).mean(dim=1) for x in modes], dim=1).mean(dim=1)
        return [x + self.scale * shared.reshape(-1, *[1] * (x.dim() - 1)) for x in modes]


class BatchCentred(nn.Module):
    """A network that centres its logits over the batch."""

    def __init__(self, mode_shapes: Sequence[tuple[int, ...]], out_features: int) -> None:
        super().__init__()
        width = sum(math.prod(shape) for shape in mode_shapes)
        self.linear = nn.Linear(width, out_features)

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        logits = self.linear(torch.cat([x.flatten(1) for x in modes], dim=1))
        return logits - logits.mean(dim=0)


class InPlace(Corruption):
    """Writes the noise into the rows it was given."""

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        return x.add_(torch.randn(x.shape, generator=generator))


class GlobalRandom(Corruption):
    """Draws from torch's global generator, so a seeded scheme is not reproducible."""

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        return x + torch.randn_like(x)


def nan_dataset() -> MultiModalData:
    features = pd.DataFrame({"a": [0.0, np.nan, 1.0], "b": [1.0, 2.0, 3.0]})
    return MultiModalData(
        name="nan",
        features=features,
        target=np.array([0, 1, 0]),
        modes={"a": ["a"], "b": ["b"]},
        task="binary",
        n_classes=2,
    )


#: family -> (broken factory, the check that must fail, what its message says)
BROKEN: dict[str, tuple[Callable[..., Any], str, str]] = {
    "estimator": (BatchMean, "check_batch_independence", "depends on the batch"),
    "correction": (NoShift, "check_correction_output", "< e"),
    "modal_energy": (AllModesEnergy, "check_missing_modes_ignored", "use the present mask"),
    "importance": (Unnormalised, "check_importance_output", "must sum to 1"),
    "gate": (Amplifier, "check_gate_output", "must lie in [0, 1]"),
    "endogenous": (FlatMasks, "check_endogenous_output", "must have shape"),
    "cross_modal": (MeanOfAllModes, "check_cross_modal_ignores_missing", "present mask"),
    "network": (BatchCentred, "check_batch_independence", "depends on the batch"),
    "corruption": (InPlace, "check_corruption_output", "in place"),
    "dataset": (nan_dataset, "check_dataset_tensors", "must be finite"),
}


def _broken_plugin() -> object:
    """A plugin registering every broken kind as ``broken`` in its family."""
    hooks: dict[str, Any] = {}
    for family, (factory, _, _) in BROKEN.items():
        hook_name = FAMILIES[family][0]

        def hook(register: Any, factory: Callable[..., Any] = factory) -> None:
            register("broken", factory)

        hooks[hook_name] = hookimpl(hook, specname=hook_name)
    return type("Broken", (), {k: staticmethod(v) for k, v in hooks.items()})()


@pytest.mark.usefixtures("clean_plugins")
@pytest.mark.parametrize("family", list(BROKEN))
def test_a_broken_kind_fails_its_check(family: str) -> None:
    _, failing, message = BROKEN[family]
    plugin_host().register(_broken_plugin(), "emma-broken", "broken")
    results = {}
    for ref, check in kind_checks(family, kinds=["broken"]):
        try:
            check(ref)
        except AssertionError as exc:
            results[check.name] = str(exc)
    assert failing in results, f"{failing} passed for the broken {family}; failures: {results}"
    assert message in results[failing]
    assert f"{family}:broken (from emma-broken)" in results[failing]


def test_the_family_runners_fail_broken_components_too() -> None:
    shapes = [(3,), (5,)]
    modes = mode_samples(shapes)
    runs: list[tuple[Callable[[], None], str]] = [
        (lambda: check_correction(NoShift(3)), "< e"),
        (lambda: check_modal_energy(AllModesEnergy(3)), "present mask"),
        (lambda: check_importance(Unnormalised(3)), "sum to 1"),
        (lambda: check_gate(Amplifier(3)), "[0, 1]"),
        (lambda: check_endogenous(FlatMasks(2, shapes), modes), "must have shape"),
        (lambda: check_cross_modal(MeanOfAllModes(2, shapes), modes), "present mask"),
        (lambda: check_network(BatchCentred(shapes, 2), modes), "depends on the batch"),
        (lambda: check_corruption(GlobalRandom()), "global generator"),
        (lambda: check_dataset(nan_dataset()), "must be finite"),
    ]
    for run, message in runs:
        with pytest.raises(AssertionError) as caught:
            run()
        assert message in str(caught.value)


def test_a_component_missing_a_contract_method_fails_first() -> None:
    class NoCapacity(nn.Module):
        def forward(self, importance: Tensor) -> Tensor:
            return importance

    with pytest.raises(AssertionError, match=r"missing capacity\(\), effective_capacity\(\)"):
        check_gate(NoCapacity())
