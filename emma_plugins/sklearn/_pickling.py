"""`EmmaClassifier` in a pickle: the spec and the trained model as plain data, rebuilt on load
(a spec's class is created at run time, so it cannot be pickled itself)."""

from __future__ import annotations

from typing import Any

import torch

from emma_plugins.assembly.builder import build
from emma_plugins.assembly.deployment import Deployment
from emma_plugins.assembly.model import EmmaModel
from emma_plugins.spec import parse_spec


class _PickledSpec:
    """A spec as plain data, in a pickle."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec


class _PickledModel:
    """A trained model as plain data, in a pickle: its spec, weights and deployment."""

    def __init__(
        self, spec: dict[str, Any], state: dict[str, torch.Tensor], deployment: str | None
    ) -> None:
        self.spec, self.state, self.deployment = spec, state, deployment

    def rebuild(self) -> EmmaModel:
        with torch.random.fork_rng(devices=[]):  # the weights are loaded: leave torch's RNG be
            model = build(parse_spec(self.spec))
        model.load_state_dict(self.state, strict=True)
        if self.deployment is not None:
            model.deployment = Deployment.model_validate_json(self.deployment)
        return model.eval()
