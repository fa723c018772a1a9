"""`build`: a spec becomes an `EmmaModel`; every kind is looked up in its registry."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.assembly.size import check_parameters
from emma_plugins.attention import EnergyAttention, build_attention
from emma_plugins.core.contracts import check_component
from emma_plugins.core.errors import SpecError
from emma_plugins.core.plugins import get_registry
from emma_plugins.spec import EmmaSpec, load_spec, parse_spec

SpecLike = EmmaSpec | Mapping[str, Any] | str | os.PathLike[str]

#: Batch size of the dry run that checks a network accepts the declared modes.
DRY_RUN_BATCH = 2


def as_spec(spec: SpecLike) -> EmmaSpec:
    """A validated spec from a spec object, a mapping or a spec file path."""
    if isinstance(spec, EmmaSpec):
        return spec
    if isinstance(spec, Mapping):
        return parse_spec(spec)
    if isinstance(spec, str | os.PathLike):
        return load_spec(Path(spec))
    raise TypeError(
        f"build() takes an EmmaSpec, a mapping or a spec file path, got {type(spec).__name__}."
    )


def build(
    spec: SpecLike, network: nn.Module | None = None, *, max_parameters: int | None = None
) -> EmmaModel:
    """Assemble EMMA and the multi-modal network a spec describes.

    ``network`` replaces the spec's network with any ``nn.Module`` taking the list of
    (weighted) modes and returning ``[N, out_features]``; it is checked by a dry run on a
    zero batch of the declared shapes. Estimators are built unfitted (training stage 1
    fits them). Networks are initialised by torch's global generator: seed it first for
    repeatable weights.

    Before anything is allocated, the parameters and buffers the spec builds are counted
    on the ``meta`` device and a `SpecError` refuses more than ``max_parameters`` (default:
    the environment variable ``EMMA_MAX_PARAMETERS``, else 100 million;
    `emma_plugins.assembly.size`). A ``network`` passed in is not counted.
    """
    path = str(spec) if isinstance(spec, str | os.PathLike) else None
    spec = as_spec(spec)
    check_parameters(spec, max_parameters, network_given=network is not None, source=path)
    source = "spec" if network is None else "user"
    if network is None:
        network = _network_from_spec(spec)
    elif not isinstance(network, nn.Module):
        raise SpecError(
            f"build(spec, network=...) needs a torch.nn.Module, got {type(network).__name__}."
        )
    attention = _attention_from_spec(spec) if spec.attention.enabled else None
    model = EmmaModel(spec, network, attention, network_source=source)
    check_network(model)
    return model


def _network_from_spec(spec: EmmaSpec) -> nn.Module:
    if spec.network is None:
        raise SpecError(
            "the spec has no network section: declare one (e.g. network: {kind: mlp}) or "
            "pass your own with build(spec, network=my_module)."
        )
    registry = get_registry("network")
    registration = registry.get(spec.network.kind)
    network = registration.build(
        spec.network, mode_shapes=list(spec.mode_shapes), out_features=spec.out_features
    )
    if not isinstance(network, nn.Module):
        raise SpecError(
            f"network kind {spec.network.kind!r} (from {registration.provider}) built a "
            f"{type(network).__name__}, not a torch.nn.Module."
        )
    check_component(
        "network",
        network,
        kind=registration.kind,
        provider=registration.provider,
        label=registry.label,
    )
    return network


def _attention_from_spec(spec: EmmaSpec) -> EnergyAttention:
    estimators = []
    registry = get_registry("estimator")
    for mode in spec.modes:
        registration = registry.get(mode.estimator.kind)
        estimator = registration.build(mode.estimator, shape=mode.sample_shape)
        check_component(
            "estimator",
            estimator,
            kind=registration.kind,
            provider=registration.provider,
            label=registry.label,
        )
        estimators.append(estimator)
    return build_attention(
        estimators,
        list(spec.mode_shapes),
        stages=spec.attention.stages(),
        energy_input=spec.attention.energy_input,
    )


@torch.no_grad()
def check_network(model: EmmaModel) -> None:
    """Dry-run the network on zeros shaped like the spec's modes; explain any mismatch."""
    network = model.network
    name = type(network).__name__
    shapes = [(DRY_RUN_BATCH, *shape) for shape in model.mode_shapes]
    device = next((p.device for p in network.parameters()), torch.device("cpu"))
    zeros = [torch.zeros(shape, device=device) for shape in shapes]
    sent = ", ".join(f"{n} {list(s)}" for n, s in zip(model.mode_names, shapes, strict=True))
    was_training = network.training
    network.eval()
    try:
        if model.attention is not None and model.apply_to == "encodings":
            output = _dry_run_encodings(network, name, zeros, sent)
        else:
            output = network(zeros)
    except SpecError:
        raise
    except Exception as exc:
        raise SpecError(
            f"network {name} does not accept the spec's modes: called with a list of "
            f"{len(zeros)} tensors ({sent}) it raised {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        network.train(was_training)
    expected = (DRY_RUN_BATCH, model.spec.out_features)
    if not isinstance(output, Tensor) or tuple(output.shape) != expected:
        got = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        raise SpecError(
            f"network {name} returned {got} for modes ({sent}); expected a tensor of shape "
            f"{list(expected)} (batch, out_features={model.spec.out_features})."
        )


def _dry_run_encodings(network: Any, name: str, zeros: Sequence[Tensor], sent: str) -> Any:
    if not (
        callable(getattr(network, "encode", None)) and callable(getattr(network, "fuse", None))
    ):
        raise SpecError(
            f"attention.apply_to is 'encodings' but network {name} has no encode(modes) and "
            "fuse(encodings) methods; give it both, or use apply_to: inputs."
        )
    encodings = network.encode(zeros)
    if not isinstance(encodings, Sequence) or len(encodings) != len(zeros):
        raise SpecError(
            f"network {name}.encode returned {type(encodings).__name__}"
            f"{'' if not isinstance(encodings, Sequence) else f' of {len(encodings)}'} for "
            f"{len(zeros)} modes ({sent}); it must return one encoding per mode."
        )
    for i, encoding in enumerate(encodings):
        if (
            not isinstance(encoding, Tensor)
            or encoding.dim() < 2
            or encoding.shape[0] != DRY_RUN_BATCH
        ):
            raise SpecError(
                f"network {name}.encode: encoding {i} must be a tensor [batch, ...] with batch "
                f"{DRY_RUN_BATCH}, got {getattr(encoding, 'shape', type(encoding).__name__)}."
            )
    return network.fuse(encodings)
