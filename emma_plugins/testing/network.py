"""Conformance checks for multi-modal networks (the ``network`` family).

``forward(modes) -> logits [N, out_features]``, finite and per sample. The optional
protocols of `emma_plugins.core.contracts` are checked when a network defines them:
``encode``/``fuse`` (``fuse(encode(x))`` equals ``forward(x)``), ``input_layers``,
``begin_fit``, ``training_loss``, ``quality_scores`` and ``uncertainty``. The kit builds
the kind for two modes of its declared ``conformance_shape`` (default ``(3,)`` and
``(5,)``) and ``OUT_FEATURES`` outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emma_plugins.core.contracts import (
    EncodesModes,
    HasBeginFit,
    HasInputLayers,
    HasQualityScores,
    HasTrainingLoss,
    HasUncertainty,
)
from emma_plugins.core.registry import Registration
from emma_plugins.testing._assertions import assert_close, assert_tensor
from emma_plugins.testing._kit import Case, FamilyKit, Params, registration_of, run_kit
from emma_plugins.testing._modules import MODULE_CHECKS
from emma_plugins.testing.endogenous import mode_samples
from emma_plugins.testing.samples import fast_params, mode_shapes_for

__all__ = [
    "NETWORK_CHECKS",
    "OUT_FEATURES",
    "check_network",
    "check_network_interfaces",
    "check_network_output",
    "check_registered_network",
]

#: Outputs the kit builds networks with (two classes).
OUT_FEATURES = 2


def _out_features(network: nn.Module) -> int:
    return int(getattr(network, "out_features", OUT_FEATURES))


def check_network_output(network: nn.Module, inputs: tuple[list[Tensor]]) -> None:
    """``forward(modes)`` returns finite logits ``[N, out_features]`` in eval mode."""
    (modes,) = inputs
    network.eval()
    with torch.no_grad():
        logits = network(modes)
    assert_tensor(logits, (len(modes[0]), _out_features(network)), "forward(modes)")


def check_network_interfaces(network: nn.Module, inputs: tuple[list[Tensor]]) -> None:
    """The optional methods a network defines work as the trainer and benchmark call them."""
    (modes,) = inputs
    n, m = len(modes[0]), len(modes)
    network.train()
    if isinstance(network, HasBeginFit):
        network.begin_fit(n)
    logits = network(modes)
    if isinstance(network, HasTrainingLoss):
        y = torch.arange(n) % max(_out_features(network), 2)
        loss = network.training_loss(
            logits, y, epoch=1, base_loss=F.cross_entropy, index=torch.arange(n)
        )
        if not isinstance(loss, Tensor) or loss.numel() != 1 or not bool(loss.isfinite().all()):
            raise AssertionError(f"training_loss(...) must return a finite scalar, got {loss!r}.")
        if not loss.requires_grad:
            raise AssertionError("training_loss(...) is detached: the network cannot train on it.")
    if isinstance(network, HasQualityScores):
        assert_tensor(network.quality_scores().detach(), (n, m), "quality_scores()")
    if isinstance(network, HasUncertainty):
        assert_tensor(network.uncertainty().detach(), (n,), "uncertainty()")
    if isinstance(network, HasInputLayers):
        layers = list(network.input_layers("inputs"))
        own = {id(module) for module in network.modules()}
        if not layers or any(id(layer) not in own for layer in layers):
            raise AssertionError(
                "input_layers('inputs') must list submodules of the network (the layers that "
                "read the modes), got " + repr([type(layer).__name__ for layer in layers])
            )
    if isinstance(network, EncodesModes):
        network.eval()
        with torch.no_grad():
            encodings = network.encode(modes)
            if not isinstance(encodings, Sequence) or len(encodings) != m:
                raise AssertionError(f"encode(modes) must return one encoding per mode ({m}).")
            for i, encoding in enumerate(encodings):
                if not isinstance(encoding, Tensor) or encoding.dim() < 2 or len(encoding) != n:
                    raise AssertionError(f"encoding {i} must be a tensor [N, ...] with N = {n}.")
            assert_close(
                network.fuse(encodings),
                network(modes),
                "fuse(encode(modes)) must equal forward(modes)",
            )


NETWORK_CHECKS = (check_network_output, check_network_interfaces, *MODULE_CHECKS)


def network_case(registration: Registration, params: Params = None) -> Case:
    values = fast_params(registration, params)
    shapes = mode_shapes_for("network", registration)

    def make() -> Any:
        return registration.build(values, mode_shapes=shapes, out_features=OUT_FEATURES)

    return Case(make(), (mode_samples(shapes),), make)


def check_network(network: nn.Module, modes: Sequence[Tensor]) -> None:
    """Run every network check on copies of ``network`` with the batch ``modes``."""
    run_kit(KIT, Case(network, (list(modes),)))


def check_registered_network(kind: str, params: Params = None) -> None:
    """Build the installed network ``kind`` with fast parameters and run every check."""
    run_kit(KIT, network_case(registration_of("network", kind), params), kind)


KIT = FamilyKit("network", NETWORK_CHECKS, network_case)
