"""A readable account of an assembled `EmmaModel`: modes, estimators, stages, network, sizes."""

from __future__ import annotations

from torch import nn

from emma_plugins.assembly.model import EmmaModel


def count_parameters(module: nn.Module | None, trainable_only: bool = False) -> int:
    """Number of parameter values in ``module`` (0 for None)."""
    if module is None:
        return 0
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def render_summary(model: EmmaModel) -> str:
    """The lines ``emma build`` prints."""
    spec = model.spec
    lines = [f"modes ({len(spec.modes)}):"]
    estimators = list(model.estimators)
    for i, mode in enumerate(spec.modes):
        shape = "x".join(map(str, mode.sample_shape))
        estimator = (
            f"{mode.estimator.describe()}  {count_parameters(estimators[i])} parameters"
            if estimators
            else "(no estimator: attention disabled)"
        )
        lines.append(f"  {mode.name:<12} [{shape}]  {estimator}")
    attention = model.attention
    if attention is None:
        lines.append("attention: disabled (the network alone)")
    else:
        lines.append(
            f"attention: on {model.apply_to}, energy input {spec.attention.energy_input!r}"
        )
        for slot, component in spec.attention.stages().items():
            stage = getattr(attention, slot, None)
            lines.append(
                f"  {slot:<13} {component.describe()}  {count_parameters(stage)} parameters"
            )
    if model.network_source == "user" or spec.network is None:
        network = f"{type(model.network).__name__} (passed in Python)"
    else:
        network = spec.network.describe()
    lines.append(f"network: {network}  {count_parameters(model.network)} parameters")
    lines.append(f"out_features: {spec.out_features}")
    total, trainable = count_parameters(model), count_parameters(model, trainable_only=True)
    lines.append(f"parameters: {total} in all, {trainable} trainable")
    return "\n".join(lines)
