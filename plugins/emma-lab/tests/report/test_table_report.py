"""The comparison report flags models whose training never improved on their start."""

from __future__ import annotations

import pandas as pd
from emma_lab.report.table_report import _kept_start_warning


def test_models_with_best_epoch_zero_are_named_with_their_seed() -> None:
    diagnostics = pd.DataFrame(
        {
            "seed": [0, 0, 1, 1],
            "model": ["early_fusion", "emma", "early_fusion", "emma"],
            "best_epoch": [12, 0, 9, 3],
        }
    )
    (warning, blank) = _kept_start_warning(diagnostics)
    assert warning.startswith(
        "> **Warning: 1 model(s) kept their starting weights**: emma (seed 0)."
    )
    assert blank == ""


def test_no_warning_when_every_model_improved() -> None:
    diagnostics = pd.DataFrame({"seed": [0], "model": ["emma"], "best_epoch": [4]})
    assert _kept_start_warning(diagnostics) == []
