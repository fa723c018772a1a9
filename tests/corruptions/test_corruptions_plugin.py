"""Corruptions as a registry family: built-ins and a third-party kind inside a scheme."""

from __future__ import annotations

import pytest
import torch
from pydantic import BaseModel, ConfigDict

from emma_plugins import get_registry, hookimpl
from emma_plugins.core.plugins import plugin_host
from emma_plugins.corruptions import Corruption, CorruptionContext, CorruptionScheme

pytestmark = pytest.mark.usefixtures("clean_plugins")


class FlipParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = -1.0


class Flip(Corruption):
    def __init__(self, scale: float = -1.0) -> None:
        self.scale = scale

    def __call__(
        self, x: torch.Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> torch.Tensor:
        return x * self.scale


class FlipPlugin:
    @hookimpl
    def register_corruptions(self, register):  # type: ignore[no-untyped-def]
        register("flip", Flip, FlipParams)


def test_builtin_kinds() -> None:
    assert get_registry("corruption").kinds() == [
        "audio_clip",
        "blur",
        "clip",
        "contrast",
        "drift",
        "gain",
        "gaussian",
        "impulse",
        "missing",
        "occlusion",
        "ood",
        "pixel_noise",
        "quantize",
        "stuck",
        "time_mask",
        "white_noise",
    ]
    assert get_registry("corruption").get("gaussian").provider == "emma-plugins"


def test_plugin_kind_works_in_a_scheme() -> None:
    plugin_host().register(FlipPlugin(), "emma-flip", "flip")
    scheme = CorruptionScheme([(0.5, {}), (0.5, {"a": {"kind": "flip", "scale": -2.0}})])
    x = torch.ones(10, 3)
    batch = scheme.apply([x], ["a"], seed=0)
    assert sorted(batch.modes[0][:, 0].tolist()) == [-2.0] * 5 + [1.0] * 5
