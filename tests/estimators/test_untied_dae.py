"""The untied autoencoder: a negative control that trains like the tied DAE but is not one."""

from __future__ import annotations

import torch
from _untied_dae import UntiedDAE, fit_on_circle

from emma_plugins.core.plugins import get_registry
from emma_plugins.estimators import TiedDAE


def test_decoder_weight_is_separate_and_differs_from_the_encoder() -> None:
    model = UntiedDAE(2, hidden=8, seed=0)
    assert model.decoder_weight.shape == model.weight.shape == (8, 2)
    assert not torch.allclose(model.decoder_weight, model.weight)
    assert "decoder_weight" in model.state_dict()
    # The encoder starts exactly as the tied DAE's, so only the tie differs.
    torch.testing.assert_close(model.weight, TiedDAE(2, hidden=8, seed=0).weight)


def test_reconstruction_uses_the_decoder_weight() -> None:
    model = UntiedDAE(3, hidden=4)
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        hidden = torch.sigmoid(x @ model.weight.T + model.hidden_bias)
        expected = hidden @ model.decoder_weight + model.output_bias
        torch.testing.assert_close(model.reconstruct(x), expected)
        model.decoder_weight.copy_(model.weight)  # tying by hand gives back the tied DAE
        tied = TiedDAE(3, hidden=4)
        tied.load_state_dict({k: v for k, v in model.state_dict().items() if k != "decoder_weight"})
        torch.testing.assert_close(model.reconstruct(x), tied.reconstruct(x))


def test_trains_with_the_same_loop_and_updates_both_weights() -> None:
    model = fit_on_circle(UntiedDAE, points=1_000, epochs=8)
    fresh = UntiedDAE(2, hidden=8, seed=0)
    assert isinstance(model, UntiedDAE)
    assert len(model.history_) == 8
    assert model.history_[-1] < 0.95 * model.history_[0]
    assert not torch.allclose(model.decoder_weight, fresh.decoder_weight)
    assert not torch.allclose(model.weight, fresh.weight)
    assert model.is_fitted


def test_control_is_not_a_registered_estimator(clean_plugins: None) -> None:
    registry = get_registry("estimator")
    assert "dae" in registry.kinds()
    assert all(entry.factory is not UntiedDAE for entry in registry)
