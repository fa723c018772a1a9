"""`render_summary` and `count_parameters`."""

from __future__ import annotations

from _spec_samples import SumNet, spec_dict

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.summary import count_parameters, render_summary


def test_counts_split_frozen_from_trainable() -> None:
    model = build(spec_dict())
    estimators = sum(count_parameters(e) for e in model.estimators)
    assert count_parameters(model) - count_parameters(model, trainable_only=True) == estimators
    assert count_parameters(None) == 0


def test_summary_of_disabled_attention_and_user_network() -> None:
    data = spec_dict(attention={"enabled": False})
    del data["network"]
    text = render_summary(build(data, network=SumNet()))
    assert "attention: disabled (the network alone)" in text
    assert "(no estimator: attention disabled)" in text
    assert "network: SumNet (passed in Python)  5 parameters" in text
