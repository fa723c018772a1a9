"""`HubEmmaModel`: the Hub mixin reads and writes the same model directory (local only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("huggingface_hub")

from emma_plugins import EmmaModel
from emma_plugins.deploy import FitOutcome
from emma_plugins.deploy.hub import HubEmmaModel


def test_a_model_directory_loads_through_the_hub_mixin_and_back(
    fitted: FitOutcome, model_dir: Path, tmp_path: Path
) -> None:
    hub = HubEmmaModel.from_pretrained(model_dir, local_files_only=True)
    assert isinstance(hub, EmmaModel) and hub.deployment == fitted.model.deployment
    hub.save_pretrained(tmp_path / "hub")
    assert (tmp_path / "hub" / "README.md").is_file()  # the Hub's model card
    again = EmmaModel.from_pretrained(tmp_path / "hub")
    x = [torch.randn(4, 10) for _ in range(3)]
    torch.testing.assert_close(again(x).output, fitted.model(x).output)


def test_an_unknown_repository_without_network_fails_clearly(tmp_path: Path) -> None:
    from huggingface_hub.errors import LocalEntryNotFoundError

    with pytest.raises((LocalEntryNotFoundError, OSError)):
        HubEmmaModel.from_pretrained(
            "nobody/no-such-emma-model", local_files_only=True, cache_dir=tmp_path
        )
