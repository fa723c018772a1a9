"""Run the kit over installed kinds from pytest, as scikit-learn's ``parametrize_with_checks``.

::

    from emma_plugins.testing import parametrize_with_checks


    @parametrize_with_checks(family="gate")          # or kinds=["gate:my_gate"], or nothing
    def test_conformance(kind, check):
        check(kind)

Each ``(kind, check)`` pair is one test with a readable id such as
``gate:shared_tanh-check_gate_output``. A kind is built (with its declared fast parameters
and sample shape, `emma_plugins.testing.samples`) once per test session and each check
gets its own copy. ``check_params_model`` and ``check_contract`` come first for every kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from emma_plugins.core.errors import DataError
from emma_plugins.core.plugins import get_registry
from emma_plugins.core.registry import Registration
from emma_plugins.testing import (
    correction,
    corruption,
    cross_modal,
    dataset,
    endogenous,
    estimator,
    gate,
    importance,
    modal_energy,
    network,
)
from emma_plugins.testing._assertions import assert_contract, assert_params_forbid_extra
from emma_plugins.testing._kit import Case, FamilyKit, call_check

if TYPE_CHECKING:
    import pytest

__all__ = [
    "KITS",
    "KindCheck",
    "KindRef",
    "kind_checks",
    "parametrize_with_checks",
    "registered_kinds",
]

#: family -> its kit, in the order of `emma_plugins.core.plugins.FAMILIES`.
KITS: Mapping[str, FamilyKit] = {
    kit.family: kit
    for kit in (
        estimator.KIT,
        correction.KIT,
        modal_energy.KIT,
        importance.KIT,
        gate.KIT,
        endogenous.KIT,
        cross_modal.KIT,
        network.KIT,
        corruption.KIT,
        dataset.KIT,
    )
}


class KindRef(NamedTuple):
    """A kind of a family, shown as ``family:kind``."""

    family: str
    kind: str

    def __str__(self) -> str:
        return f"{self.family}:{self.kind}"


def registered_kinds(
    family: str | Sequence[str] | None = None, provider: str | None = None
) -> list[KindRef]:
    """Every installed kind of ``family`` (one, several, or every family with a kit),
    optionally only those of one distribution (``provider="emma-cnn"``)."""
    families = list(KITS) if family is None else [family] if isinstance(family, str) else family
    unknown = [f for f in families if f not in KITS]
    if unknown:
        raise ValueError(f"no conformance kit for {unknown}; families: {', '.join(KITS)}.")
    return [
        KindRef(f, entry.kind)
        for f in families
        for entry in get_registry(f)
        if provider is None or entry.provider == provider
    ]


@cache
def _case(family: str, registration: Registration) -> Case:
    return KITS[family].case(registration, None)


@dataclass(frozen=True)
class KindCheck:
    """One check, callable on a `KindRef`: ``check(kind)`` builds the kind and runs it."""

    name: str
    function: Callable[..., None]

    def __call__(self, ref: KindRef | str, family: str | None = None) -> None:
        ref = _as_ref(ref, family)
        registration = get_registry(ref.family).get(ref.kind)
        label = f"{ref} (from {registration.provider})"
        try:
            if self.name == "check_params_model":
                assert_params_forbid_extra(ref.family, registration)
                return
            case = _prepared(ref.family, registration)
            if self.name == "check_contract":
                assert_contract(ref.family, case.component)
                return
            kit = KITS[ref.family]
            call_check(self.function, case, kit.copy)
        except AssertionError as exc:
            raise AssertionError(f"{self.name} failed for {label}: {exc}") from exc
        except Exception as exc:  # the component itself raised: that check fails too
            raise AssertionError(
                f"{self.name} failed for {label}: {type(exc).__name__}: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return self.name


def _prepared(family: str, registration: Registration) -> Case:
    try:
        return _case(family, registration)
    except DataError as exc:
        import pytest

        pytest.skip(f"{family} {registration.kind!r} is not available offline: {exc}")
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(
            f"building {family} {registration.kind!r} with its fast parameters failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _as_ref(ref: KindRef | str, family: str | None) -> KindRef:
    if isinstance(ref, KindRef):
        return ref
    if ":" in ref:
        fam, kind = ref.split(":", 1)
        return KindRef(fam, kind)
    if family is None:
        raise ValueError(f"name the family of kind {ref!r}: 'family:kind' (e.g. 'gate:{ref}').")
    return KindRef(family, ref)


def _noop(*_: Any, **__: Any) -> None:
    """Stand-in for the kind-level checks (`KindCheck.__call__` runs them itself)."""


def kind_checks(
    family: str | Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    provider: str | None = None,
) -> Iterator[tuple[KindRef, KindCheck]]:
    """``(kind, check)`` for every check of every selected kind.

    ``kinds`` items are ``"family:kind"``, or bare kind names when ``family`` names one
    family; without ``kinds``, every installed kind of ``family`` (default: every family)
    provided by ``provider`` (default: any distribution).
    """
    if kinds is None:
        refs = registered_kinds(family, provider)
    else:
        single = family if isinstance(family, str) else None
        refs = [_as_ref(kind, single) for kind in kinds]
    for ref in refs:
        kit = KITS[ref.family]
        yield ref, KindCheck("check_params_model", _noop)
        yield ref, KindCheck("check_contract", _noop)
        for function in kit.checks:
            yield ref, KindCheck(function.__name__, function)


def parametrize_with_checks(
    family: str | Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    provider: str | None = None,
) -> pytest.MarkDecorator:
    """``pytest.mark.parametrize("kind, check", ...)`` over `kind_checks`, with ids such as
    ``gate:shared_tanh-check_gate_output``. The test body is ``check(kind)``. A plugin's
    suite passes its distribution's name, ``provider="emma-cnn"``, to check its own kinds."""
    import pytest

    pairs = list(kind_checks(family, kinds, provider))
    return pytest.mark.parametrize(
        ("kind", "check"),
        [pytest.param(ref, check, id=f"{ref}-{check.name}") for ref, check in pairs],
    )
