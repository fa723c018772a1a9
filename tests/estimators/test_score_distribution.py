"""Estimators record each score's training distribution at calibration: besides the minimum,
its quantiles at levels 0, 0.01, ..., 1 and its standard deviation (what the ``standardized``
correction needs); state dicts saved before they existed still load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor

from emma_plugins.core.contracts import (
    QUANTILE_LEVELS,
    HasScoreDistribution,
    ScoreDistribution,
    quantile_grid,
    quantile_of_grid,
)
from emma_plugins.core.errors import EstimatorError, NotFittedError
from emma_plugins.estimators import TiedDAE

LEVELS = np.linspace(0.0, 1.0, QUANTILE_LEVELS)


def _data(n: int = 257, seed: int = 0) -> Tensor:
    return torch.randn(n, 4, generator=torch.Generator().manual_seed(seed)) * 2.0 + 0.5


@pytest.fixture(scope="module")
def fitted() -> TiedDAE:
    return TiedDAE(4, hidden=5, epochs=2, seed=0).fit(_data(), progress=False)


def _optional_keys(estimator: TiedDAE) -> list[str]:
    return [f"{n}_{s}" for n in estimator.score_names for s in ("quantiles", "std")]


def test_the_quantiles_and_std_are_numpys_on_the_calibration_scores(fitted: TiedDAE) -> None:
    x = _data()
    with torch.no_grad():
        scores = {name: value.double().numpy() for name, value in fitted.scores(x).items()}
    assert isinstance(fitted, HasScoreDistribution)
    for name in fitted.score_names:
        quantiles = fitted.score_quantiles(name)
        assert quantiles.shape == (QUANTILE_LEVELS,) and quantiles.dtype == torch.float32
        np.testing.assert_allclose(
            quantiles.double().numpy(), np.quantile(scores[name], LEVELS), rtol=1e-5, atol=1e-5
        )
        assert float(fitted.score_std(name)) == pytest.approx(np.std(scores[name]), abs=1e-5)
        assert float(quantiles[0]) == float(fitted.score_min(name))
        assert float(quantiles[-1]) == pytest.approx(scores[name].max(), abs=1e-5)


def test_chunked_calibration_gives_the_same_statistics(fitted: TiedDAE) -> None:
    x = _data()
    chunked = TiedDAE(4, hidden=5)
    chunked.load_state_dict(fitted.state_dict())
    chunked.calibrate(x, batch_size=7)
    for name in fitted.score_names:
        torch.testing.assert_close(chunked.score_quantiles(name), fitted.score_quantiles(name))
        torch.testing.assert_close(chunked.score_std(name), fitted.score_std(name))


def test_score_quantile_interpolates_the_grid(fitted: TiedDAE) -> None:
    grid = fitted.score_quantiles("potential")
    assert torch.equal(fitted.score_quantile("potential", 0.0), grid[0])
    assert torch.equal(fitted.score_quantile("potential", 1.0), grid[-1])
    assert torch.equal(fitted.score_quantile("potential", 0.99), grid[99])
    assert torch.equal(fitted.score_quantile("potential", 0.29), grid[29])  # 28.999... in floats
    midway = fitted.score_quantile("potential", 0.995)
    torch.testing.assert_close(midway, (grid[99] + grid[100]) / 2)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        fitted.score_quantile("potential", 1.5)
    with pytest.raises(KeyError, match="no score 'entropy'"):
        fitted.score_std("entropy")


def test_quantile_grid_is_exact_and_from_scores_is_per_column() -> None:
    values = torch.randn(1001, generator=torch.Generator().manual_seed(3))
    np.testing.assert_allclose(
        quantile_grid(values).numpy(), np.quantile(values.double().numpy(), LEVELS), atol=1e-12
    )
    assert torch.equal(quantile_grid(torch.tensor([2.0])), torch.full((101,), 2.0).double())
    scores = torch.randn(50, 3, generator=torch.Generator().manual_seed(4))
    distribution = ScoreDistribution.from_scores(scores)
    assert distribution.n_modes == 3 and distribution.quantiles.shape == (3, QUANTILE_LEVELS)
    torch.testing.assert_close(distribution.minimum, scores.min(dim=0).values)
    torch.testing.assert_close(distribution.std, scores.std(dim=0, correction=0))
    median = torch.from_numpy(np.quantile(scores.numpy(), 0.5, axis=0)).float()
    torch.testing.assert_close(distribution.quantile(0.5), median)
    assert torch.equal(distribution.quantile(1.0), scores.max(dim=0).values)
    assert torch.equal(quantile_of_grid(distribution.quantiles, 0.0), distribution.minimum)


def test_unfitted_estimators_say_so() -> None:
    estimator = TiedDAE(4, hidden=3)
    with pytest.raises(NotFittedError, match=r"is not fitted: call \.fit\(data\)"):
        estimator.score_quantiles("potential")
    with pytest.raises(NotFittedError, match="is not fitted"):
        estimator.score_std("grad_norm")


def test_an_old_state_dict_without_the_new_buffers_loads_and_asks_to_recalibrate(
    fitted: TiedDAE,
) -> None:
    old = {k: v for k, v in fitted.state_dict().items() if k not in _optional_keys(fitted)}
    assert "potential_min" in old and "potential_quantiles" not in old
    fresh = TiedDAE(4, hidden=5).calibrate(_data(seed=9))  # stale statistics must go
    result = fresh.load_state_dict(old)  # strict
    assert not result.missing_keys and not result.unexpected_keys
    assert fresh.is_fitted and torch.equal(fresh.potential_min, fitted.potential_min)
    assert bool(fresh.potential_quantiles.isnan().all()) and bool(fresh.grad_norm_std.isnan())
    message = r"estimator\.calibrate\(clean_training_rows\)"
    with pytest.raises(NotFittedError, match=message) as caught:
        fresh.score_quantile("potential", 0.5)
    assert "saved before estimators recorded their training quantiles" in str(caught.value)
    with pytest.raises(NotFittedError, match=message):
        fresh.score_std("grad_norm")
    fresh.calibrate(_data())  # the remedy the message names
    torch.testing.assert_close(fresh.score_quantiles("potential"), fitted.potential_quantiles)

    nested = torch.nn.ModuleDict({"est": TiedDAE(4, hidden=5)})  # under a prefix, too
    nested.load_state_dict({f"est.{k}": v for k, v in old.items()})
    assert bool(nested["est"].potential_std.isnan())


def test_a_state_dict_without_the_minima_is_still_incomplete(fitted: TiedDAE) -> None:
    drop = {"potential_min", "potential_quantiles", "potential_std"}
    broken = {k: v for k, v in fitted.state_dict().items() if k not in drop}
    with pytest.raises(RuntimeError, match="Missing key") as caught:
        TiedDAE(4, hidden=5).load_state_dict(broken)
    for key in drop:
        assert key in str(caught.value)


def test_non_finite_scores_leave_every_statistic_unfitted() -> None:
    x = _data(40)
    estimator = TiedDAE(4, hidden=3).calibrate(x)
    x[5, 0] = float("inf")
    with pytest.raises(EstimatorError, match="produced non-finite values on its calibration"):
        estimator.calibrate(x)
    for name in estimator.score_names:
        for statistic in ("min", "quantiles", "std"):
            assert bool(getattr(estimator, f"{name}_{statistic}").isnan().all())
    with pytest.raises(EstimatorError, match="produced non-finite values"):
        estimator.score_quantiles("potential")
    with pytest.raises(ValueError, match="needs at least one sample"):
        estimator.calibrate(x[:0])


def test_the_statistics_follow_dtype_moves(fitted: TiedDAE) -> None:
    moved = TiedDAE(4, hidden=5)
    moved.load_state_dict(fitted.state_dict())
    moved.to(torch.float64)
    assert moved.score_quantiles("potential").dtype == torch.float64
    assert moved.score_std("potential").dtype == torch.float64
