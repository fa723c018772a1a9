"""Model directories on the Hugging Face Hub (the ``hub`` extra: ``huggingface_hub``).

`HubEmmaModel` is an `EmmaModel` with the Hub's `ModelHubMixin`: ``save_pretrained(dir,
push_to_hub=True, repo_id=...)`` uploads a model directory and ``from_pretrained(repo_id)``
downloads one. The directory is the same as `emma fit` writes and `EmmaModel.from_pretrained`
reads (the Hub adds a ``README.md`` model card, which loading ignores); a local folder
works without a network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import ModelHubMixin, snapshot_download
from torch import nn

from emma_plugins.assembly.checkpoint import load, save
from emma_plugins.assembly.model import EmmaModel


class HubEmmaModel(  # type: ignore[misc]  # the Hub's save/from_pretrained win, by design
    ModelHubMixin,
    EmmaModel,
    library_name="emma-plugins",
    tags=["emma", "multi-modal", "robustness"],
):
    """An `EmmaModel` that saves to and loads from the Hugging Face Hub."""

    def _save_pretrained(self, save_directory: Path) -> None:
        save(self, save_directory)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        network: nn.Module | None = None,
        **_: Any,
    ) -> HubEmmaModel:
        folder = Path(model_id)
        if not folder.is_dir():
            folder = Path(
                snapshot_download(
                    repo_id=model_id,
                    revision=revision,
                    cache_dir=cache_dir,
                    force_download=force_download,
                    local_files_only=local_files_only,
                    token=token,
                )
            )
        model = load(folder, network=network)
        model.__class__ = cls  # the loaded model, with the Hub's methods
        return model  # type: ignore[return-value]


__all__ = ["HubEmmaModel"]
