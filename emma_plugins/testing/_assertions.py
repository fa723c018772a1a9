"""Assertions and tensor helpers shared by the checks of every family."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from emma_plugins.core.contracts import contract_problems
from emma_plugins.core.registry import Registration

#: Relative and absolute tolerance for results that must agree up to float32 round-off.
RTOL, ATOL = 1e-4, 1e-5

#: Attributes every ``nn.Module`` carries itself; anything else in ``vars(module)`` is the author's.
_MODULE_INTERNALS = frozenset(vars(nn.Module()))


def name_of(component: object) -> str:
    return type(component).__name__


def first_mismatch(actual: Tensor, expected: Tensor, rtol: float, atol: float) -> str | None:
    """None if close, else a description of the worst value."""
    actual = actual.detach().double().cpu().reshape(-1)
    expected = expected.detach().double().cpu().reshape(-1)
    if actual.shape != expected.shape:
        return f"{tuple(actual.shape)} values vs {tuple(expected.shape)}"
    same = (actual == expected) | (actual.isnan() & expected.isnan())  # infinities too
    error = torch.where(same, 0.0, (actual - expected).abs()).nan_to_num(float("inf"))
    excess = error - (atol + rtol * expected.abs().nan_to_num(0.0))
    if not bool((excess > 0).any()):
        return None
    worst = int(excess.argmax())
    return (
        f"sample {worst}: {float(actual[worst]):.6g} vs {float(expected[worst]):.6g} "
        f"(max abs difference {float(error.max()):.3g})"
    )


def assert_close(
    actual: Tensor, expected: Tensor, what: str, rtol: float = RTOL, atol: float = ATOL
) -> None:
    mismatch = first_mismatch(actual, expected, rtol, atol)
    if mismatch is not None:
        raise AssertionError(f"{what}; {mismatch}.")


def assert_tensor(value: object, shape: Sequence[int], what: str, finite: bool = True) -> Tensor:
    """``value`` is a floating tensor of ``shape``, finite unless told otherwise."""
    if not isinstance(value, Tensor):
        raise AssertionError(f"{what} must be a torch.Tensor, got {type(value).__name__}.")
    if tuple(value.shape) != tuple(shape):
        raise AssertionError(f"{what} must have shape {tuple(shape)}, got {tuple(value.shape)}.")
    if not value.is_floating_point():
        raise AssertionError(f"{what} must be a floating tensor, got {value.dtype}.")
    if finite and value.device.type != "meta" and not bool(torch.isfinite(value).all()):
        bad = (~torch.isfinite(value)).nonzero()[0].tolist()
        raise AssertionError(
            f"{what} must be finite, got {float(value[tuple(bad)])} at index {bad}; use stable "
            "formulations (softplus, logsumexp, log_softmax) instead of log(1 + exp(.)) or 1/0."
        )
    return value


def assert_per_sample(value: object, n: int, what: str) -> Tensor:
    """``value`` is a finite floating tensor of shape ``(n,)``."""
    if isinstance(value, Tensor) and tuple(value.shape) != (n,):
        raise AssertionError(
            f"{what} must have shape (N,) = ({n},), one value per sample, got "
            f"{tuple(value.shape)}; reduce over every dimension but the batch."
        )
    return assert_tensor(value, (n,), what)


def tensors(module: nn.Module) -> Iterable[tuple[str, Tensor]]:
    yield from module.named_parameters()
    yield from module.named_buffers()


def unregistered(module: nn.Module) -> Iterator[tuple[str, Tensor | nn.Module]]:
    """Tensors and modules stored where ``nn.Module`` cannot see them, by qualified name.

    A plain reference to a registered parameter, buffer or submodule is not reported:
    ``state_dict`` and ``.to()`` see the object itself (``nn.LSTM`` keeps such a list of
    its own parameters, ``_flat_weights``, and rebuilds it when moved).
    """
    registered = {id(t) for _, t in tensors(module)} | {id(m) for m in module.modules()}
    for prefix, sub in module.named_modules():
        for attr, value in vars(sub).items():
            if attr in _MODULE_INTERNALS:
                continue
            if isinstance(value, dict):
                members = list(value.values())
            elif isinstance(value, list | tuple):
                members = list(value)
            else:
                members = [value]
            for member in members:
                if isinstance(member, Tensor | nn.Module) and id(member) not in registered:
                    yield (f"{prefix}.{attr}" if prefix else attr), member


def tensor_names_where(module: nn.Module, predicate: Callable[[Tensor], bool]) -> list[str]:
    """Names of ``module``'s tensors, registered or plain attributes, for which ``predicate``
    holds."""
    names = [name for name, t in tensors(module) if predicate(t)]
    names += [name for name, t in unregistered(module) if isinstance(t, Tensor) and predicate(t)]
    return names


def assert_all_float64(moved: nn.Module) -> None:
    """Every floating tensor of ``moved`` (a module after ``.to(torch.float64)``) is float64."""
    stale = tensor_names_where(moved, lambda t: t.is_floating_point() and t.dtype != torch.float64)
    if stale:
        raise AssertionError(
            f"after .to(torch.float64) these tensors are not float64: {', '.join(sorted(stale))}; "
            "register them as buffers or parameters."
        )


def assert_all_on_device(moved: nn.Module, device: torch.device, label: str) -> None:
    """Every tensor of ``moved`` (a module after ``.to(label)``) is on ``device``'s type."""
    left = tensor_names_where(moved, lambda t: t.device.type != device.type)
    if left:
        raise AssertionError(
            f"after .to({label!r}) these tensors stayed behind: {', '.join(sorted(left))}; "
            "register them as buffers or parameters."
        )


def assert_tensors_registered(module: nn.Module) -> None:
    """Every tensor and submodule of ``module`` is registered."""
    plain = sorted({name for name, _ in unregistered(module)})
    if plain:
        raise AssertionError(
            f"{', '.join(plain)} hold(s) tensors or modules as plain attributes: state_dict does "
            "not save them and .to() does not move them. Use self.register_buffer(name, tensor) "
            "for fitted statistics, nn.Parameter for weights, nn.ModuleList for submodules."
        )


def assert_contract(family: str, component: object) -> None:
    """``component`` satisfies the protocols of ``family`` (`emma_plugins.core.contracts`)."""
    problems = contract_problems(family, component)
    if problems:
        raise AssertionError(
            f"{name_of(component)} does not fulfil the {family} contract: {'; '.join(problems)}. "
            "Add the method(s); see emma_plugins.core.contracts."
        )


def assert_params_forbid_extra(family: str, registration: Registration) -> None:
    """The registered parameter model rejects unknown fields, so misspellings are errors."""
    if registration.params.model_config.get("extra") != "forbid":
        raise AssertionError(
            f"the params model {registration.params.__name__} of {family} {registration.kind!r} "
            "must set model_config = ConfigDict(extra='forbid'), so misspelled fields are errors."
        )


def assert_json_ready(value: object, what: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise AssertionError(
            f"{what} must hold plain numbers, strings, lists and dicts (JSON-ready): {exc}; "
            "convert tensors with .tolist() or float()."
        ) from exc


def state_dict_copy(module: nn.Module) -> dict[str, Any]:
    """``module.state_dict()`` through ``torch.save`` and ``torch.load(weights_only=True)``."""
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    buffer.seek(0)
    try:
        state: dict[str, Any] = torch.load(buffer, weights_only=True)
    except Exception as exc:
        raise AssertionError(
            "state_dict() does not load with torch.load(weights_only=True): it must hold "
            f"tensors only ({type(exc).__name__}: {exc})."
        ) from exc
    return state


def scrambled_copy(module: nn.Module) -> nn.Module:
    """A copy whose saved tensors all hold different values, as a fresh instance would."""
    fresh = copy.deepcopy(module)
    with torch.no_grad():
        for tensor in fresh.state_dict(keep_vars=True).values():
            if tensor.is_floating_point():
                tensor.fill_(float("nan"))
            else:
                tensor.zero_()
    return fresh


def run_checks(
    checks: Iterable[Callable[..., None]],
    label: str,
    call: Callable[[Callable[..., None]], None],
) -> None:
    """Run ``call(check)`` for each check, naming the check that fails."""
    for check in checks:
        try:
            call(check)
        except AssertionError as exc:
            raise AssertionError(f"{check.__name__} failed for {label}: {exc}") from exc
        except Exception as exc:  # the component itself raised: that check fails too
            raise AssertionError(
                f"{check.__name__} failed for {label}: {type(exc).__name__}: {exc}"
            ) from exc
