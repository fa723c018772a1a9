"""Checks every ``nn.Module`` component shares: attention stages and networks.

Each check is ``check(module, inputs)``, ``inputs`` the tuple of positional arguments of
``module(*inputs)`` (tensors with the batch first, lists of them, boolean masks).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.core.contracts import Constrained, Describable
from emma_plugins.testing._assertions import (
    assert_all_float64,
    assert_all_on_device,
    assert_close,
    assert_json_ready,
    assert_tensors_registered,
    scrambled_copy,
    state_dict_copy,
)

Inputs = tuple[Any, ...]


# -- helpers --------------------------------------------------------------------------------------
def flat(output: Any) -> list[Tensor]:
    """Every tensor in an output (a tensor, or nested tuples and lists of them)."""
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, list | tuple):
        return [t for item in output for t in flat(item)]
    return []


def take(value: Any, index: slice | Tensor) -> Any:
    """Rows ``index`` of every tensor in ``value`` (nested lists and tuples kept)."""
    if isinstance(value, Tensor):
        return value[index]
    if isinstance(value, list | tuple):
        return type(value)(take(item, index) for item in value)
    return value


def cast(value: Any, **to: Any) -> Any:
    """``value`` with its floating tensors moved by ``.to(**to)`` (masks keep their dtype)."""
    if isinstance(value, Tensor):
        if value.is_floating_point():
            return value.to(**to)
        return value.to(device=to.get("device", value.device))
    if isinstance(value, list | tuple):
        return type(value)(cast(item, **to) for item in value)
    return value


def leaves(value: Any) -> Any:
    """``value`` with every floating tensor a fresh leaf that requires grad."""
    if isinstance(value, Tensor):
        return value.detach().clone().requires_grad_(value.is_floating_point())
    if isinstance(value, list | tuple):
        return type(value)(leaves(item) for item in value)
    return value


def batch_size(inputs: Inputs) -> int:
    return int(flat(list(inputs))[0].shape[0])


def _as_module(component: object) -> nn.Module:
    if not isinstance(component, nn.Module):
        raise AssertionError(
            f"{type(component).__name__} is not a torch.nn.Module; subclass nn.Module so its "
            "parameters train, save and move with the model."
        )
    return component


def perturbed(module: nn.Module, seed: int = 1, scale: float = 0.5) -> nn.Module:
    """A copy with every floating parameter moved by noise (then constrained, if it can be)."""
    copied = copy.deepcopy(module)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in copied.parameters():
            if parameter.is_floating_point():
                noise = torch.randn(parameter.shape, generator=generator) * scale
                parameter.add_(noise.to(parameter))
    if isinstance(copied, Constrained):
        copied.constrain_()
    return copied


# -- the checks -----------------------------------------------------------------------------------
def check_batch_independence(module: nn.Module, inputs: Inputs) -> None:
    """In eval mode, each sample's output is the same alone as inside its batch."""
    module = _as_module(module).eval()
    n = batch_size(inputs)
    with torch.no_grad():
        full = flat(module(*inputs))
        for i in range(min(n, 3)):
            alone = flat(module(*take(inputs, slice(i, i + 1))))
            for j, (one, whole) in enumerate(zip(alone, full, strict=True)):
                assert_close(
                    one,
                    whole[i : i + 1],
                    f"output {j} of sample {i} alone differs from its value inside a batch of "
                    f"{n}: the output depends on the batch; compute every term per sample and "
                    "avoid batch statistics (BatchNorm in training mode)",
                )


def check_gradients_flow(module: nn.Module, inputs: Inputs) -> None:
    """Backward through the output gives finite gradients, and a parameter learns."""
    module = _as_module(perturbed(_as_module(module))).train()
    args = leaves(inputs)
    with torch.enable_grad():
        outputs = [t for t in flat(module(*args)) if t.is_floating_point()]
        if not outputs:
            raise AssertionError("the forward returned no floating tensor.")
        total = sum(t.sum() for t in outputs)
        assert isinstance(total, Tensor)
        if not total.requires_grad:
            trainable = [n for n, p in module.named_parameters() if p.requires_grad]
            if trainable:
                raise AssertionError(
                    f"the output is detached from the parameters ({', '.join(trainable)}): "
                    "compute it with torch operations only (no .detach(), .item(), numpy)."
                )
            return
        total.backward()
    for arg in flat(list(args)):
        if arg.grad is not None and not bool(torch.isfinite(arg.grad).all()):
            raise AssertionError(
                "the gradient with respect to the inputs is not finite; guard divisions and "
                "logarithms (clamp, softplus) and masked softmax rows with no entry."
            )
    grads = {n: p.grad for n, p in module.named_parameters() if p.requires_grad}
    bad = [n for n, g in grads.items() if g is not None and not bool(torch.isfinite(g).all())]
    if bad:
        raise AssertionError(f"the gradients of {', '.join(bad)} are not finite.")
    if grads and not any(g is not None and bool(g.ne(0).any()) for g in grads.values()):
        raise AssertionError(
            f"no parameter ({', '.join(grads)}) receives a non-zero gradient from the output: "
            "training cannot change the component."
        )


def check_tensors_registered(module: nn.Module, inputs: Inputs) -> None:
    """Every tensor and submodule is registered, so ``state_dict`` and ``.to()`` see it."""
    del inputs  # part of the uniform check signature
    assert_tensors_registered(_as_module(module))


def check_state_dict_round_trip(
    module: nn.Module, inputs: Inputs, make: Callable[[], nn.Module] | None = None
) -> None:
    """A fresh instance (from ``make``) loaded from a ``weights_only`` ``state_dict`` of a
    trained copy gives identical outputs."""
    trained = perturbed(_as_module(module)).eval()
    state = state_dict_copy(trained)
    fresh = make() if make is not None else scrambled_copy(trained)
    fresh = _as_module(fresh).eval()
    try:
        fresh.load_state_dict(state)
    except RuntimeError as exc:
        raise AssertionError(
            f"state_dict() does not load into a fresh instance: {exc}. Allocate every "
            "parameter and buffer with its final shape in __init__."
        ) from exc
    with torch.no_grad():
        expected, actual = flat(trained(*inputs)), flat(fresh(*inputs))
    for j, (a, e) in enumerate(zip(actual, expected, strict=True)):
        assert_close(
            a,
            e,
            f"output {j} of a fresh instance loaded from state_dict() differs: some state is "
            "not saved; register it with self.register_buffer or nn.Parameter",
            rtol=0,
            atol=0,
        )


def check_dtype_move(module: nn.Module, inputs: Inputs) -> None:
    """After ``.to(torch.float64)`` every floating tensor is float64, and so is the output."""
    module = _as_module(module).eval()
    moved = copy.deepcopy(module).to(torch.float64)
    assert_all_float64(moved)
    with torch.no_grad():
        expected = flat(module(*inputs))
        actual = flat(moved(*cast(inputs, dtype=torch.float64)))
    for j, (a, e) in enumerate(zip(actual, expected, strict=True)):
        if e.is_floating_point() and a.dtype != torch.float64:
            raise AssertionError(
                f"after .to(torch.float64) output {j} is {a.dtype}: a tensor made inside "
                "forward has a fixed dtype; create it like the input (x.new_zeros, "
                "torch.zeros(..., dtype=x.dtype, device=x.device))."
            )
        assert_close(a, e, f"output {j} in float64 disagrees with float32", rtol=1e-3, atol=1e-4)


def check_device_move(module: nn.Module, inputs: Inputs, device: str = "meta") -> None:
    """After ``.to(device)`` nothing stays behind and the forward runs there (``meta`` needs
    no accelerator and catches tensors created on the CPU inside ``forward``)."""
    target = torch.device(device)
    moved = copy.deepcopy(_as_module(module)).to(target).eval()
    assert_all_on_device(moved, target, device)
    try:
        with torch.no_grad():
            outputs = flat(moved(*cast(inputs, device=target)))
    except NotImplementedError:
        if target.type == "meta":
            return  # an operation without a meta kernel
        raise
    except RuntimeError as exc:
        if target.type == "meta" and "meta" in str(exc) and "device" not in str(exc):
            return  # data-dependent operations (.item(), nonzero) cannot run on meta
        raise AssertionError(
            f"forward fails after .to({device!r}): {exc}. Create tensors inside forward on the "
            "input's device (x.new_zeros, torch.zeros(..., device=x.device))."
        ) from exc
    stray = [j for j, t in enumerate(outputs) if t.device.type != target.type]
    if stray:
        raise AssertionError(f"outputs {stray} are not on {device} after .to({device!r}).")


def check_constrain(module: nn.Module, inputs: Inputs) -> None:
    """``constrain_()`` (when defined) brings parameters back into range: the forward is then
    finite, and a second call changes nothing (a projection)."""
    module = _as_module(module)
    if not isinstance(module, Constrained):
        return
    wild = perturbed(module, seed=2, scale=10.0)
    assert isinstance(wild, Constrained)
    wild.constrain_()
    once = {n: p.detach().clone() for n, p in wild.named_parameters()}
    wild.constrain_()
    changed = [n for n, p in wild.named_parameters() if not torch.equal(p.detach(), once[n])]
    if changed:
        raise AssertionError(
            f"a second constrain_() changed {', '.join(changed)}: it must project parameters "
            "into their boxes (clamp_), so that a projected value stays put."
        )
    with torch.no_grad():
        outputs = flat(wild.eval()(*inputs))
    for j, output in enumerate(outputs):
        if output.is_floating_point() and bool(output.isnan().any()):
            raise AssertionError(
                f"output {j} holds NaN after constrain_() on parameters far out of range: "
                "constrain every parameter the forward needs bounded."
            )


def check_describe(module: nn.Module, inputs: Inputs) -> None:
    """``describe()`` (when defined) returns a JSON-ready dict."""
    del inputs
    if not isinstance(module, Describable):
        return
    description = module.describe()
    if not isinstance(description, dict):
        raise AssertionError(
            f"describe() must return a dict of plain values, got {type(description).__name__}."
        )
    assert_json_ready(description, "describe()")


#: The checks every module component gets, after its family's own checks.
MODULE_CHECKS: tuple[Callable[..., None], ...] = (
    check_batch_independence,
    check_gradients_flow,
    check_tensors_registered,
    check_state_dict_round_trip,
    check_dtype_move,
    check_device_move,
    check_constrain,
    check_describe,
)
