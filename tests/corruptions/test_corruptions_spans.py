"""Random spans: exact widths, every admissible start reachable, seeded, bad widths refused."""

from __future__ import annotations

import pytest
import torch

from emma_plugins.corruptions import CorruptionError
from emma_plugins.corruptions.spans import random_span_mask


def test_each_row_has_one_contiguous_span_of_the_width() -> None:
    mask = random_span_mask(500, 10, 3, torch.Generator().manual_seed(0), what="w")
    assert mask.shape == (500, 10) and mask.dtype == torch.bool
    assert mask.sum(dim=1).eq(3).all()
    starts = mask.int().argmax(dim=1)
    assert mask[torch.arange(500)[:, None], starts[:, None] + torch.arange(3)].all()
    assert set(starts.tolist()) == set(range(8))  # starts 0..7 all drawn


def test_seeded_and_full_width() -> None:
    a = random_span_mask(20, 6, 2, torch.Generator().manual_seed(3), what="w")
    b = random_span_mask(20, 6, 2, torch.Generator().manual_seed(3), what="w")
    assert torch.equal(a, b)
    assert random_span_mask(4, 6, 6, torch.Generator(), what="w").all()


@pytest.mark.parametrize("width", [0, 7])
def test_width_must_fit(width: int) -> None:
    with pytest.raises(CorruptionError, match=r"time mask of .* choose 1\.\.6"):
        random_span_mask(4, 6, width, torch.Generator(), what="time mask")
