"""The machinery the family modules share: a kind's test case and the runner of its checks."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from emma_plugins.core.plugins import get_registry
from emma_plugins.core.registry import Registration
from emma_plugins.testing._assertions import assert_contract, name_of, run_checks

Check = Callable[..., None]
Params = BaseModel | Mapping[str, Any] | None


@dataclass
class Case:
    """One kind, ready to check: a prepared component (built with fast parameters, fitted or
    calibrated where its family needs it), the inputs every check feeds it, and ``make``,
    which builds a fresh instance (for the ``state_dict`` round trip)."""

    component: Any
    inputs: Any
    make: Callable[[], Any] | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FamilyKit:
    """The checks of one family and how to make a `Case` for one of its kinds."""

    family: str
    checks: tuple[Check, ...]
    case: Callable[[Registration, Params], Case]
    #: Whether every check gets a deep copy of the component (modules); data sets are shared.
    copy: bool = True


def call_check(check: Check, case: Case, copy_component: bool = True) -> None:
    """``check(component, inputs[, make=...])`` on a copy of the case's component."""
    component = copy.deepcopy(case.component) if copy_component else case.component
    if "make" in inspect.signature(check).parameters and case.make is not None:
        check(component, case.inputs, make=case.make)
    else:
        check(component, case.inputs)


def run_kit(kit: FamilyKit, case: Case, label: str | None = None) -> None:
    """Run every check of ``kit`` on ``case``; the first failure names its check."""
    assert_contract(kit.family, case.component)
    run_checks(
        kit.checks,
        label or name_of(case.component),
        lambda check: call_check(check, case, kit.copy),
    )


def registration_of(family: str, kind: str) -> Registration:
    return get_registry(family).get(kind)
