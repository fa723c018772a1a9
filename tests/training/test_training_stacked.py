"""`training.stacked`: K members trained at once equal the same K trained one at a time.

The exactness tests compare stacked training against `loop.fit` (networks, and EMMA models
with attention: stage 2 with λ_c, λ_e, ρ and annealing per member) and `TiedDAE.fit`
(estimators) member by member, with different seeds, learning rates, noise,
epochs and patience: parameters, histories and best epochs agree to float rounding (batched
against single matmuls), well within ``ATOL``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from emma_plugins import TiedDAE, build, parse_spec
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.core.errors import TrainingError
from emma_plugins.training import ClassificationLoss, FitConfig, FitResult, TensorSplit, fit
from emma_plugins.training.stacked import (
    can_stack,
    fit_all_estimators,
    fit_networks,
    fit_stacked_emma,
    fit_stacked_estimators,
    fit_stacked_networks,
)

ATOL = 1e-5


def _spec(out_features: int = 1, **network: Any) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "modes": [
            {"name": "ip", "width": 4, "estimator": {"kind": "dae"}},
            {"name": "dm_snr", "width": 4, "estimator": {"kind": "dae"}},
        ],
        "attention": {"enabled": False},
        "network": {"kind": "mlp", "hidden": [8, 4], **network},
        "out_features": out_features,
    }


def _models(k: int, network: nn.Module | None = None, **kind: Any) -> list[EmmaModel]:
    """``k`` models of one architecture, initialised differently (seeded)."""
    models = []
    for seed in range(k):
        torch.manual_seed(100 + seed)
        net = copy.deepcopy(network)
        if net is not None:
            for p in net.parameters():
                nn.init.normal_(p, std=0.5)
        models.append(build(parse_spec(_spec(**kind)), network=net))
    return models


def _splits(
    n: int = 320, classes: int = 2, missing: bool = False
) -> tuple[TensorSplit, TensorSplit]:
    g = torch.Generator().manual_seed(0)

    def split(rows: int) -> TensorSplit:
        x = torch.randn(rows, 8, generator=g)
        score = x[:, 0] + x[:, 4] + 0.5 * torch.randn(rows, generator=g)
        y = torch.bucketize(score, torch.linspace(-1, 1, classes - 1)) if classes > 2 else score > 0
        data = TensorSplit.clean([x[:, :4], x[:, 4:]], y.long())
        if missing:
            data.missing[::5, 0] = True
            data.modes[0][::5] = float("nan")  # a missing mode's values never reach the net
            data.xi[data.missing] = -1.0
        return data

    return split(n), split(n // 4)


def _configs() -> list[FitConfig]:
    """Different seeds and learning rates; one stops early (patience 1 at a high lr), one
    runs fewer epochs."""
    settings = [(0, 1e-2, None, 5), (1, 3e-3, 2, 5), (2, 5e-2, 1, 5), (3, 1e-3, None, 3)]
    return [
        FitConfig(epochs=e, lr=lr, seed=s, patience=p, batch_size=32, progress=False, desc=f"m{s}")
        for s, lr, p, e in settings
    ]


def _assert_same(
    expected: Sequence[FitResult],
    got: Sequence[FitResult],
    sequential: Sequence[nn.Module],
    stacked: Sequence[nn.Module],
) -> None:
    for want, have, one, many in zip(expected, got, sequential, stacked, strict=True):
        assert have.best_epoch == want.best_epoch
        assert have.best_val_loss == pytest.approx(want.best_val_loss, abs=ATOL)
        assert len(have.history) == len(want.history)
        for row_want, row_have in zip(want.history, have.history, strict=True):
            assert row_have.keys() == row_want.keys()
            for key, value in row_want.items():
                assert row_have[key] == pytest.approx(value, abs=ATOL), key
        for (name, p), (other, q) in zip(
            one.state_dict().items(), many.state_dict().items(), strict=True
        ):
            assert name == other
            torch.testing.assert_close(q, p, atol=ATOL, rtol=0)


@pytest.mark.parametrize(
    ("classes", "missing"),
    [(2, False), (3, False), (2, True)],
    ids=["binary", "3-class", "missing"],
)
def test_stacked_networks_equal_sequential_fits(classes: int, missing: bool) -> None:
    train, val = _splits(classes=classes, missing=missing)
    loss = ClassificationLoss(train.y, classes)
    configs = _configs()
    models = _models(len(configs), out_features=1 if classes == 2 else classes)
    sequential, stacked = copy.deepcopy(models), copy.deepcopy(models)
    assert can_stack(stacked)

    expected = [fit(m, train, val, loss, c) for m, c in zip(sequential, configs, strict=True)]
    got = fit_stacked_networks(stacked, train, val, loss, configs)

    _assert_same(expected, got, sequential, stacked)
    # the test covers what it claims: one member stopped early, one ran fewer epochs
    assert len(got[2].history) < configs[2].epochs
    assert len(got[3].history) == 3 and len(got[0].history) == 5
    assert all(not m.training for m in stacked)


class StackableSum(nn.Module):
    """A user network that declares itself stackable: trains through torch.func.vmap."""

    stackable = True

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(3, 1)

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        out: Tensor = self.b(torch.tanh(self.a(modes[0] * modes[1])))
        return out


def _plain_loss(logits: Tensor, y: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits.squeeze(-1), y.float())


def test_other_stackable_kinds_and_losses_stack_through_vmap() -> None:
    train, val = _splits()
    configs = _configs()[:3]
    models = _models(len(configs), network=StackableSum())
    sequential, stacked = copy.deepcopy(models), copy.deepcopy(models)
    expected = [
        fit(m, train, val, _plain_loss, c) for m, c in zip(sequential, configs, strict=True)
    ]
    got = fit_stacked_networks(stacked, train, val, _plain_loss, configs)
    _assert_same(expected, got, sequential, stacked)


def _daes() -> list[TiedDAE]:
    settings = [(0, 0.01, 1e-3, 3), (1, 0.1, 1e-2, 2), (2, 0.5, 3e-3, 3), (7, 0.05, 3e-2, 3)]
    return [
        TiedDAE(shape=(4,), hidden=12, seed=s, sigma=sigma, lr=lr, epochs=e, batch_size=32)
        for s, sigma, lr, e in settings
    ]


def test_stacked_daes_equal_sequential_fits() -> None:
    x = torch.randn(300, 4, generator=torch.Generator().manual_seed(3)) * 2 + 1
    sequential, stacked = _daes(), _daes()
    assert can_stack(stacked)
    for estimator in sequential:
        estimator.fit(x, progress=False)
    assert fit_stacked_estimators(stacked, x) == stacked

    for want, have in zip(sequential, stacked, strict=True):
        assert have.is_fitted and not have.training
        assert len(have.history_) == len(want.history_) == want.epochs
        assert have.history_ == pytest.approx(want.history_, abs=ATOL)
        for (name, p), (_, q) in zip(
            want.state_dict().items(), have.state_dict().items(), strict=True
        ):
            torch.testing.assert_close(q, p, atol=ATOL, rtol=0, msg=name)


class LargestTensor(TorchFunctionMode):
    """Records the most elements of any tensor a torch call returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_function__(
        self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Any = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, tuple | list) else (out,):
            if isinstance(value, Tensor):
                self.largest = max(self.largest, value.numel())
        return out


def test_the_data_is_shared_not_copied_per_member() -> None:
    """No tensor made while training K stacked members comes near K copies of the data:
    each batch gathers ``[K, B, ...]`` rows from the one shared tensor."""
    train, val = _splits(n=1024)
    loss = ClassificationLoss(train.y, 2)
    k = 8
    models = _models(k)
    configs = [FitConfig(epochs=1, seed=s, progress=False) for s in range(k)]
    one_copy = sum(mode.numel() for mode in train.modes)  # 8 values per row
    with LargestTensor() as record:
        fit_stacked_networks(models, train, val, loss, configs)
    assert 0 < record.largest < k * one_copy / 2  # the largest: the [K, n] permutations

    x = torch.randn(1024, 4)
    with LargestTensor() as record:
        fit_stacked_estimators(
            [TiedDAE(shape=(4,), seed=s, epochs=1) for s in range(k)], x, progress=False
        )
    assert 0 < record.largest < k * x.numel() / 2  # calibrate: one member's [n, 12] hidden


def test_what_does_not_stack_trains_one_at_a_time_with_fit() -> None:
    train, val = _splits()
    loss = ClassificationLoss(train.y, 2)
    configs = _configs()[:2]
    torch.manual_seed(5)
    late = [build(parse_spec(_spec() | {"network": {"kind": "late_fusion"}})) for _ in configs]
    dropout = _models(2, dropout=0.2)
    emma = _spec() | {"attention": {"enabled": True}}
    attention = [  # a stage kind that does not declare stackable; a score with a gradient
        build(parse_spec(emma | {"attention": {"gate": {"kind": "per_mode"}}})),
        build(parse_spec(emma | {"attention": {"energy_input": "grad_norm"}})),
    ]
    for models in (late, dropout):
        assert not can_stack(models) and not can_stack(models[0])
        expected_models = copy.deepcopy(models)
        expected = [
            fit(m, train, val, loss, c) for m, c in zip(expected_models, configs, strict=True)
        ]
        got = fit_networks(models, train, val, loss, configs)
        assert [r.history for r in got] == [r.history for r in expected]
        for one, other in zip(expected_models, models, strict=True):
            for p, q in zip(one.state_dict().values(), other.state_dict().values(), strict=True):
                assert torch.equal(p, q)
    assert can_stack(build(parse_spec(emma)))  # the default stages stack
    assert not can_stack(attention[0]) and not can_stack(attention[1])
    with pytest.raises(ValueError, match="cannot train stacked"):
        fit_stacked_networks(dropout, train, val, loss, configs)
    with pytest.raises(ValueError, match="cannot train stacked"):
        fit_stacked_emma(attention, train, val, loss, configs)
    with pytest.raises(ValueError, match="cannot train stacked"):  # EMMA: fit_stacked_emma
        fit_stacked_networks([build(parse_spec(emma)) for _ in configs], train, val, loss, configs)


def test_fit_networks_stacks_groups_and_no_stack_is_fit() -> None:
    train, val = _splits()
    loss = ClassificationLoss(train.y, 2)
    configs = _configs()
    models = _models(2) + _models(2, hidden=[6])  # two architectures: two stacked groups
    assert not can_stack(models) and can_stack(models[:2]) and can_stack(models[2:])
    reference = copy.deepcopy(models)
    expected = [fit(m, train, val, loss, c) for m, c in zip(reference, configs, strict=True)]
    unstacked = copy.deepcopy(models)
    alone = fit_networks(unstacked, train, val, loss, configs, stack=False)
    assert [r.history for r in alone] == [r.history for r in expected]  # stack=False is fit

    got = fit_networks(models, train, val, loss, configs)
    _assert_same(expected, got, reference, models)

    daes = [*_daes(), TiedDAE(shape=(4,), hidden=5, seed=9, epochs=2)]
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(4))
    fit_all_estimators(daes, x)
    for estimator in [*_daes(), TiedDAE(shape=(4,), hidden=5, seed=9, epochs=2)]:
        estimator.fit(x, progress=False)
        twin = daes.pop(0)
        torch.testing.assert_close(twin.weight, estimator.weight, atol=ATOL, rtol=0)


def test_an_unusable_learning_rate_names_the_member() -> None:
    train, val = _splits()
    configs = _configs()[:2]
    configs[1].lr = float("nan")
    with pytest.raises(TrainingError, match=r"^Training 'm1' cannot start: lr=nan"):
        fit_stacked_networks(_models(2), train, val, ClassificationLoss(train.y, 2), configs)


# -- EMMA stage 2 -------------------------------------------------------------------------------
#: The attention of each stacked EMMA case: its correction (one per member: ``standardized``
#: members differ in ``dead_zone``, which only calibration reads) and its importance.
EMMA_CASES: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
    "min_shift": ([{"kind": "min_shift"}] * 4, {"kind": "boltzmann"}),
    "standardized": (
        [{"kind": "standardized", "dead_zone": tau} for tau in (0.0, 0.5, 0.9, 0.99)],
        {"kind": "boltzmann", "learnable": True},
    ),
}


def _emma_spec(
    rho: float,
    seed: int,
    correction: dict[str, Any] | None = None,
    importance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    estimator = {"kind": "dae", "epochs": 2, "seed": seed}
    return _spec() | {
        "modes": [
            {"name": "ip", "width": 4, "estimator": estimator},
            {"name": "dm_snr", "width": 4, "estimator": estimator},
        ],
        "attention": {
            "correction": correction or {"kind": "min_shift"},
            "modal_energy": {"kind": "coupled"},
            "importance": (importance or {"kind": "boltzmann"}) | {"rho": rho},
            "gate": {"kind": "shared_tanh"},
        },
    }


def _emmas(rhos: Sequence[float], clean: TensorSplit, case: str = "min_shift") -> list[EmmaModel]:
    """EMMA models of one architecture: different ρ, initial weights and (for the last
    one) estimators; the estimators fitted and frozen, the constraints imposed."""
    corrections, importance = EMMA_CASES[case]
    models = []
    for k, rho in enumerate(rhos):
        torch.manual_seed(200 + k)
        spec = _emma_spec(rho, seed=k // 3, correction=corrections[k], importance=importance)
        models.append(build(parse_spec(spec)))
    models[0].fit_estimators(clean.modes, progress=False)
    for model in models[1:]:
        if model is models[-1]:
            model.fit_estimators(clean.modes, progress=False)  # its own estimators
        else:
            model.attention.estimators.load_state_dict(models[0].attention.estimators.state_dict())
            model.attention.calibrate_()
    for model in models:
        with torch.no_grad():
            model.attention.constrain_()
    return models


def _corrupted(split: TensorSplit) -> TensorSplit:
    """The corrupted mix: a quarter of mode 0 and a fifth of mode 1 noisy (xi = -1)."""
    g = torch.Generator().manual_seed(1)
    modes = [mode.clone() for mode in split.modes]
    xi = split.xi.clone()
    for i, every in enumerate((4, 5)):
        rows = torch.arange(i, len(split), every)
        modes[i][rows] += 3 * torch.randn(modes[i][rows].shape, generator=g)
        xi[rows, i] = -1.0
    return TensorSplit(modes, split.y, split.missing, xi)


@pytest.mark.parametrize("case", list(EMMA_CASES))
def test_stacked_emma_equals_sequential_fits(case: str) -> None:
    from emma_plugins.training import ColdnessAnnealing

    clean, clean_val = _splits(n=256)
    train, val = _corrupted(clean), _corrupted(clean_val)
    loss = ClassificationLoss(train.y, 2)
    rhos = [1e-4, 0.5, 1.0, 2.0]
    settings = [  # lr, lambda_c, lambda_e, patience, annealing
        (1e-2, 0.0, 0.0, None, False),
        (3e-3, 0.1, 0.05, None, False),
        (5e-3, 0.01, 0.5, None, True),
        (5e-2, 1.0, 0.0, 1, False),
    ]

    def configs() -> list[FitConfig]:
        return [
            FitConfig(
                epochs=6,
                lr=lr,
                seed=k,
                patience=patience,
                lambda_c=lc,
                lambda_e=le,
                annealing=ColdnessAnnealing(start=0.01, factor=3.0) if anneal else None,
                batch_size=32,
                progress=False,
                desc=f"emma{k}",
            )
            for k, (lr, lc, le, patience, anneal) in enumerate(settings)
        ]

    models = _emmas(rhos, clean, case)
    assert can_stack(models)
    sequential, stacked = copy.deepcopy(models), copy.deepcopy(models)
    expected = [fit(m, train, val, loss, c) for m, c in zip(sequential, configs(), strict=True)]
    got = fit_networks(stacked, train, val, loss, configs())

    _assert_same(expected, got, sequential, stacked)
    assert len(got[3].history) < 6 and len(got[0].history) == 6  # member 3 stopped early
    assert "rho" in got[2].history[0] and "rho" not in got[0].history[0]
    assert len({row["rho"] for row in got[2].history}) > 1  # it did anneal
    rhos_after = [m.attention.importance.coldness for m in stacked]
    if EMMA_CASES[case][1].get("learnable"):  # log rho trained, as in the sequential fits
        assert rhos_after[0] != pytest.approx(1e-4) and rhos_after[3] != pytest.approx(2.0)
    else:
        assert rhos_after[0] == pytest.approx(1e-4) and rhos_after[3] == pytest.approx(2.0)
    if case == "standardized":  # each member calibrated at its own dead zone
        centers = [m.attention.correction.center for m in stacked]
        assert all(bool((a < b).all()) for a, b in itertools.pairwise(centers[:3]))
    assert all(not m.training for m in stacked)
