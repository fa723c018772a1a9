"""How a spec names a component: ``{kind: ..., **params}``, resolved through a registry.

Spec models declare a component field as ``Annotated[ComponentSpec, Family("estimator")]``.
On its own that is a loose stand-in (any ``kind``, any parameters); `spec_model` swaps it
for the discriminated union of the kinds registered in that family once plugins have
loaded, so every kind, built-in or third-party, validates against its own parameter model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from emma_plugins.core.errors import SpecIssue
from emma_plugins.core.registry import Registration

#: The config of the spec's models and of every kind's parameters (`kind_model`): unknown
#: keys are errors, and floats must be finite (``.inf``, ``nan``, ``1e400`` are refused).
SPEC_MODEL_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True)
class Family:
    """Marks a spec field whose value is a component of a registry family."""

    family: str


class ComponentSpec(BaseModel):
    """A component in a spec: its ``kind`` plus the kind's own parameters.

    Validated specs hold instances of per-kind subclasses (built by `spec_model` from each
    kind's parameter model), which carry the `Registration` they came from.
    """

    model_config = ConfigDict(extra="allow")

    kind: str = Field(description="A kind registered in this component family.")

    #: Set on the per-kind subclasses; ``None`` on the loose stand-in.
    registration: ClassVar[Registration | None] = None

    def params(self) -> dict[str, Any]:
        """The parameters without ``kind``, as plain values."""
        return self.model_dump(mode="json", exclude={"kind"})

    def describe(self) -> str:
        """``kind(param=value, ...)`` for summaries."""
        inner = ", ".join(f"{key}={value!r}" for key, value in self.params().items())
        return f"{self.kind}({inner})"


def component_default(kind: str) -> Any:
    """A ``default_factory`` giving ``{"kind": kind}``, validated like user input."""

    def factory() -> dict[str, Any]:
        return {"kind": kind}

    return factory


class CrossFieldError(ValueError):
    """Several problems found across fields, each with its own location."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        super().__init__("; ".join(str(issue) for issue in issues))
        self.issues = issues

    @classmethod
    def at(cls, location: str, message: str) -> CrossFieldError:
        """One problem at ``location``, relative to the model that raises it."""
        return cls([SpecIssue(location, message)])
