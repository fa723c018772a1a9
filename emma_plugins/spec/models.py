"""The spec of an EMMA model: modes, attention stages, the multi-modal network (MMN).

These classes define the structure; `spec_model` derives the validating version, in which
every ``Family``-marked field is the union of the kinds plugins registered. Checks that
span several fields (widths against the network, stages against the number of modes) run
here, after each field validated on its own.

A parameter model may define ``check_context(self, **context)`` and raise ``ValueError``:
it is called with the family's context keywords (``shape`` for estimators; ``n_modes``
and ``mode_shapes`` for attention stages; ``mode_shapes`` and ``out_features`` for
networks) so that a kind can refuse modes it cannot handle before anything is built.
Before that, a factory whose signature would reject those keywords or the parameter
fields (`emma_plugins.core.contracts.factory_keyword_problems`) is reported at the
component's location, instead of failing with a traceback at build time.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from emma_plugins.attention import DEFAULT_STAGES, STAGE_SLOTS
from emma_plugins.attention.build import SHAPED_SLOTS
from emma_plugins.core.contracts import factory_keyword_problems
from emma_plugins.core.errors import SpecIssue
from emma_plugins.spec.components import (
    SPEC_MODEL_CONFIG,
    ComponentSpec,
    CrossFieldError,
    Family,
    component_default,
)
from emma_plugins.spec.sections import DataSpec, TrainingSpec

SPEC_VERSION = 1

#: Attention slots in the order the module applies them (the attention layer owns the
#: names): the required ones have a default kind, the optional ones are off by default.
SLOTS: tuple[str, ...] = tuple(STAGE_SLOTS)
REQUIRED_SLOTS: tuple[str, ...] = tuple(slot for slot in SLOTS if slot in DEFAULT_STAGES)
OPTIONAL_SLOTS: tuple[str, ...] = tuple(slot for slot in SLOTS if slot not in DEFAULT_STAGES)

#: Slots whose output is shaped like the raw mode, so they cannot act on encodings.
INPUT_ONLY_SLOTS: tuple[str, ...] = tuple(SHAPED_SLOTS)

#: Validation context key set while a spec derived from a validated one is validated
#: (`emma_plugins.spec.overrides.override`).
DERIVED = "emma_derived_spec"

_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_.-]*\Z")
#: Longest name of a mode (or of a plugin's named entry, `check_name`).
MAX_NAME_LENGTH = 100


def check_name(name: str, what: str) -> str:
    """``name`` if it is a valid name of a mode, or of anything that may become a file or
    folder name (a variant, a baseline): letters, digits, ``_``, ``.`` and ``-``, starting
    with a letter or ``_`` (so never ``.``, ``..`` or a path), at most `MAX_NAME_LENGTH`
    characters; otherwise a ``ValueError`` that says so, naming it ``what``."""
    if not _NAME.match(name):
        raise ValueError(
            f"{what} {name!r} must start with a letter or _ and use only letters, "
            "digits, _, . and -"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{what} is {len(name)} characters long; at most {MAX_NAME_LENGTH}")
    return name


def is_derived(info: ValidationInfo) -> bool:
    """Whether the spec being validated is derived from a validated spec by overrides.

    Plugin sections' whole-spec checks (``check_spec``) ran on the spec it came from and
    are not repeated for each derived spec (they may derive specs themselves).
    """
    return bool(isinstance(info.context, dict) and info.context.get(DERIVED))


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


#: What a missing or invalid reading of a mode does: mask the mode, fill the training mean,
#: or refuse the row (also in each mode's deployment record).
MissingPolicy = Literal["missing", "impute_mean", "error"]


class ModeSpec(BaseModel):
    """One mode: its name, the shape of one sample, where it comes from, its estimator."""

    model_config = SPEC_MODEL_CONFIG

    name: str = Field(description="Unique name of the mode (letters, digits, _ . -).")
    shape: tuple[Annotated[int, Field(ge=1)], ...] | None = Field(
        None, min_length=1, description="Shape of one sample of the mode, e.g. [4] or [1, 28, 28]."
    )
    width: int | None = Field(None, ge=1, description="Shorthand for a flat mode: shape [width].")
    columns: list[int | str] | None = Field(
        None,
        min_length=1,
        description="Source columns of a table (indices or names), in order; their count "
        "gives the width when shape and width are omitted.",
    )
    field: str | None = Field(
        None, min_length=1, description="Source field of a data set that yields named modes."
    )
    estimator: Annotated[ComponentSpec, Family("estimator")] = Field(
        description="The energy estimator of this mode (step 1)."
    )
    on_missing: MissingPolicy = Field(
        "missing",
        description="A missing or invalid reading of this mode (NaN, infinite, or, when "
        "predicting, far beyond the training range): mask the mode as missing in that row, "
        "fill the reading with its training mean, or refuse the row. Applies when emma fit "
        "trains (on data that keeps missing cells: the table kind's on_missing: missing) "
        "and when the model predicts, where the mode is also flagged failed.",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return check_name(name, "mode name")

    @field_validator("columns")
    @classmethod
    def _distinct_columns(cls, columns: list[int | str] | None) -> list[int | str] | None:
        if columns is not None:
            repeated = [column for column, count in Counter(columns).items() if count > 1]
            if repeated:
                raise ValueError(f"columns repeat {repeated}; list each source column once")
            if any(isinstance(c, int) and c < 0 for c in columns):
                raise ValueError("column indices must be >= 0")
        return columns

    @model_validator(mode="after")
    def _consistent_shape(self) -> ModeSpec:
        if self.columns is not None and self.field is not None:
            raise CrossFieldError.at(
                "field", "give either columns or field as the source, not both"
            )
        if self.shape is not None and self.width is not None and self.shape != (self.width,):
            raise CrossFieldError.at(
                "width", f"width {self.width} disagrees with shape {list(self.shape)}; give one"
            )
        if self.shape is None and self.width is None and self.columns is None:
            raise ValueError("the mode's size is unknown: give shape (e.g. [4]), width, or columns")
        if self.columns is not None and len(self.columns) != self.size:
            raise CrossFieldError.at(
                "columns",
                f"{len(self.columns)} columns do not fill shape {list(self.sample_shape)} "
                f"({self.size} values per sample); list one column per value",
            )
        return self

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample, without the batch dimension."""
        if self.shape is not None:
            return tuple(self.shape)
        if self.width is not None:
            return (self.width,)
        return (len(self.columns or ()),)

    @property
    def size(self) -> int:
        """Values per sample: the product of the shape."""
        return _size(self.sample_shape)


def _stage_field(slot: str, description: str) -> Any:
    """A required stage slot: its default is the slot's built-in kind (`DEFAULT_STAGES`),
    validated like user input so that its parameters get their defaults too."""
    return Field(
        default_factory=component_default(DEFAULT_STAGES[slot]["kind"]),
        validate_default=True,
        description=description,
    )


class AttentionSpec(BaseModel):
    """The attention module: one entry per stage slot, and where its weights apply."""

    model_config = SPEC_MODEL_CONFIG

    enabled: bool = Field(
        True, description="false: the network alone, e.g. the baseline of the same spec."
    )
    energy_input: str = Field(
        "potential",
        min_length=1,
        description="Which estimator score is the energy: 'potential' or 'grad_norm'.",
    )
    apply_to: Literal["inputs", "encodings"] = Field(
        "inputs",
        description="Weigh the raw modes, or the per-mode encodings of a network that has "
        "encode() and fuse() (thesis section 8.1). Estimators always see the raw modes.",
    )
    correction: Annotated[ComponentSpec, Family("correction")] = _stage_field(
        "correction", "Potential correction (5.3)."
    )
    modal_energy: Annotated[ComponentSpec, Family("modal_energy")] = _stage_field(
        "modal_energy", "Self and shared energies (5.1-5.2)."
    )
    importance: Annotated[ComponentSpec, Family("importance")] = _stage_field(
        "importance", "Importance from modal energies (5.4)."
    )
    gate: Annotated[ComponentSpec, Family("gate")] = _stage_field(
        "gate", "Attention from importance (5.5)."
    )
    endogenous: Annotated[ComponentSpec, Family("endogenous")] | None = Field(
        None, description="Optional intra-modal masks m_i (chapter 7); inputs only."
    )
    cross_modal: Annotated[ComponentSpec, Family("cross_modal")] | None = Field(
        None, description="Optional cross-modal attention after masking (chapter 7); inputs only."
    )

    def stages(self) -> dict[str, ComponentSpec]:
        """``slot -> component`` for every slot in use, in application order."""
        chosen = {slot: getattr(self, slot) for slot in SLOTS}
        return {slot: component for slot, component in chosen.items() if component is not None}


class EmmaSpec(BaseModel):
    """A complete spec: modes, attention, network and output size, plus optional sections."""

    model_config = SPEC_MODEL_CONFIG

    spec_version: Literal[1] = Field(description="Version of the spec format; this is 1.")
    modes: list[ModeSpec] = Field(description="The modes, in the order the network takes them.")
    attention: AttentionSpec = Field(
        default_factory=dict,
        validate_default=True,
        description="The attention module (EMMA); omitted: the default stages.",
    )
    network: Annotated[ComponentSpec, Family("network")] | None = Field(
        None,
        description="The multi-modal network; omit it only when the network is passed in "
        "Python with build(spec, network=...).",
    )
    out_features: int = Field(1, ge=1, description="Outputs of the network (logits).")
    data: DataSpec | None = Field(None, description="The data set (optional).")
    training: TrainingSpec | None = Field(None, description="Training settings (optional).")

    @field_validator("spec_version", mode="before")
    @classmethod
    def _supported_version(cls, value: Any) -> Any:
        if value != SPEC_VERSION:
            raise ValueError(
                f"spec_version {value!r} is not supported: this version of emma reads "
                f"spec_version {SPEC_VERSION}"
            )
        return value

    @field_validator("modes")
    @classmethod
    def _distinct_modes(cls, modes: list[ModeSpec]) -> list[ModeSpec]:
        if len(modes) < 2:
            names = ", ".join(repr(mode.name) for mode in modes) or "none"
            raise ValueError(
                f"EMMA weighs modes against each other, so a spec needs at least two modes; "
                f"got {len(modes)} ({names})"
            )
        first: dict[str, int] = {}
        for index, mode in enumerate(modes):
            if mode.name in first:
                raise CrossFieldError.at(
                    f"[{index}].name",
                    f"mode name {mode.name!r} is already used by modes[{first[mode.name]}]; "
                    "mode names must be unique",
                )
            first[mode.name] = index
        return modes

    @model_validator(mode="after")
    def _fits_together(self, info: ValidationInfo) -> EmmaSpec:
        issues = list(_cross_field_issues(self, sections=not is_derived(info)))
        if issues:
            raise CrossFieldError(issues)
        return self

    # -- conveniences ----------------------------------------------------------------------
    @property
    def mode_names(self) -> tuple[str, ...]:
        return tuple(mode.name for mode in self.modes)

    @property
    def mode_shapes(self) -> tuple[tuple[int, ...], ...]:
        return tuple(mode.sample_shape for mode in self.modes)

    @property
    def resolved_training(self) -> TrainingSpec:
        """The training section, or its defaults when the spec has none."""
        return self.training if self.training is not None else TrainingSpec()

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-compatible values (what checkpoints store).

        Every field is written, ``None`` included, so that a parameter set to ``None`` on
        purpose does not fall back to a different default when the spec is read again.
        """
        return self.model_dump(mode="json")


def _cross_field_issues(spec: EmmaSpec, *, sections: bool = True) -> Iterator[SpecIssue]:
    attention = spec.attention
    shapes = [list(shape) for shape in spec.mode_shapes]
    contexts: list[tuple[str, ComponentSpec, dict[str, Any]]] = [
        (f"modes[{i}].estimator", mode.estimator, {"shape": mode.sample_shape})
        for i, mode in enumerate(spec.modes)
    ]
    if attention.enabled:
        for slot, component in attention.stages().items():
            context: dict[str, Any] = {"n_modes": len(spec.modes)}
            if slot in OPTIONAL_SLOTS:
                context["mode_shapes"] = [tuple(s) for s in shapes]
            contexts.append((f"attention.{slot}", component, context))
        yield from _energy_input_issues(spec)
        yield from _apply_to_issues(spec)
    if spec.network is not None:
        network_context = {
            "mode_shapes": [tuple(s) for s in shapes],
            "out_features": spec.out_features,
        }
        contexts.append(("network", spec.network, network_context))
    yield from _corrupted_mode_issues(spec)
    yield from _output_issues(spec)
    if sections:
        yield from _section_issues(spec)
    for location, component, context in contexts:
        factory_issues = list(_factory_issues(location, component, context))
        yield from factory_issues
        check = getattr(component, "check_context", None)
        if check is None or factory_issues:
            continue
        try:
            check(**context)
        except ValueError as exc:
            yield SpecIssue(location, str(exc))


def _factory_issues(
    location: str, component: ComponentSpec, context: dict[str, Any]
) -> Iterator[SpecIssue]:
    """A factory that would reject the keywords the builder passes it, found from its
    signature before anything is built (the parameter fields plus the context keywords)."""
    registration = type(component).registration
    if registration is None:
        return
    fields = [name for name in type(component).model_fields if name != "kind"]
    problems = factory_keyword_problems(registration.factory, [*fields, *context])
    if problems:
        factory = getattr(registration.factory, "__qualname__", repr(registration.factory))
        yield SpecIssue(
            location,
            f"kind {registration.kind!r} from {registration.provider!r} cannot be built: its "
            f"factory {factory} {'; it '.join(problems)}. The builder calls it with the "
            f"kind's parameter fields plus the context keyword(s) {', '.join(context)}; the "
            "plugin must accept them all (or take **kwargs), see docs/hooks.md",
        )


def _corrupted_mode_issues(spec: EmmaSpec) -> Iterator[SpecIssue]:
    """Per-mode training corruptions must name modes of the spec."""
    if spec.training is None:
        return
    for mode in spec.training.corruption.per_mode:
        yield from unknown_mode_issue(spec, f"training.corruption.per_mode.{mode}", mode)


def _output_issues(spec: EmmaSpec) -> Iterator[SpecIssue]:
    """``out_features`` must fit the task the data set kind declares (``task`` and
    ``n_classes`` on its factory, `emma_plugins.sources.container.declares_task`): one logit
    for a binary task, one per class otherwise. Other kinds are checked when loaded."""
    registration = type(spec.data.dataset).registration if spec.data is not None else None
    if registration is None:
        return
    task = getattr(registration.factory, "task", None)
    n_classes = getattr(registration.factory, "n_classes", None)
    out = spec.out_features
    if task == "binary" and out != 1:
        yield SpecIssue(
            "out_features",
            f"data set {registration.kind!r} is a binary task, so the network gives one logit "
            f"(its metric is F1 of class 1): set out_features: 1, not {out}",
        )
    elif task == "multiclass" and isinstance(n_classes, int) and out != n_classes:
        yield SpecIssue(
            "out_features",
            f"data set {registration.kind!r} has {n_classes} classes, so the network gives one "
            f"logit per class: set out_features: {n_classes}, not {out}",
        )


def unknown_mode_issue(spec: EmmaSpec, location: str, mode: str) -> Iterator[SpecIssue]:
    """An issue at ``location`` when ``mode`` is not one of the spec's modes."""
    if mode not in spec.mode_names:
        yield SpecIssue(location, f"no mode {mode!r}; the modes are {', '.join(spec.mode_names)}")


def _section_issues(spec: EmmaSpec) -> Iterator[SpecIssue]:
    """Checks of plugin sections (``register_spec_sections``) that need the whole spec."""
    for name in type(spec).model_fields.keys() - EmmaSpec.model_fields.keys():
        check = getattr(getattr(spec, name), "check_spec", None)
        if check is not None:
            for issue in check(spec):
                yield SpecIssue(f"{name}.{issue.location}", issue.message)


def _energy_input_issues(spec: EmmaSpec) -> Iterator[SpecIssue]:
    wanted = spec.attention.energy_input
    for mode in spec.modes:
        registration = type(mode.estimator).registration
        names = getattr(registration.factory, "score_names", None) if registration else None
        if isinstance(names, tuple) and wanted not in names:
            yield SpecIssue(
                "attention.energy_input",
                f"{wanted!r} is not a score of estimator {mode.estimator.kind!r} of mode "
                f"{mode.name!r}; choose one of {', '.join(names)}",
            )
            return


def _apply_to_issues(spec: EmmaSpec) -> Iterator[SpecIssue]:
    attention = spec.attention
    if attention.apply_to != "encodings":
        return
    for slot in INPUT_ONLY_SLOTS:
        if getattr(attention, slot) is not None:
            yield SpecIssue(
                f"attention.{slot}",
                f"the {slot} stage acts on raw modes, so it needs apply_to: inputs "
                "(apply_to is encodings)",
            )
    network = spec.network
    registration = type(network).registration if network is not None else None
    if registration is not None and not (
        hasattr(registration.factory, "encode") and hasattr(registration.factory, "fuse")
    ):
        yield SpecIssue(
            "attention.apply_to",
            f"network {registration.kind!r} has no per-mode encodings (encode/fuse); use a "
            "network such as 'encoder_fusion', or apply_to: inputs",
        )
