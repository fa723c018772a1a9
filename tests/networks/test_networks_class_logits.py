"""Class logits inside, the spec's logit layout outside."""

from __future__ import annotations

import pytest
import torch

from emma_plugins.networks.class_logits import class_count, to_output_logits


def test_binary_specs_model_two_classes_and_output_their_log_odds() -> None:
    assert class_count(1) == 2 and class_count(2) == 2 and class_count(5) == 5
    logits = torch.tensor([[0.5, 2.0], [1.0, -1.0]])
    out = to_output_logits(logits, 1)
    torch.testing.assert_close(torch.sigmoid(out.squeeze(1)), torch.softmax(logits, 1)[:, 1])
    assert to_output_logits(logits, 2) is logits
    with pytest.raises(ValueError, match="out_features"):
        class_count(0)
