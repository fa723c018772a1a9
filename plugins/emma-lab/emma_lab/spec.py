"""The lab's spec section ``evaluation``: seeds, variants, baselines, sweeps and the grid.

It extends the library's model spec through the ``register_spec_sections`` hook, so
``emma validate`` and ``emma schema`` check it like the library's own sections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from emma_plugins.core.errors import SpecError, SpecIssue
from emma_plugins.spec import ComponentSpec, EmmaSpec, Family, TrainingSpec
from emma_plugins.spec.components import SPEC_MODEL_CONFIG, CrossFieldError
from emma_plugins.spec.models import check_name, unknown_mode_issue
from emma_plugins.spec.overrides import (
    AttentionOverrides,
    ComponentPatch,
    TrainingOverrides,
    override,
    partial_model,
)
from emma_plugins.training.selection import ThresholdRule

#: The three models every experiment compares: the spec's network alone on clean data, its
#: weights fine-tuned on the corrupted mix, and the network behind EMMA (variants and grid
#: points are ``emma[name]``). Reports, tables and checkpoints use these names.
EARLY_FUSION, NOISE_AUGMENTATION, EMMA = "early_fusion", "noise_augmentation", "emma"
MODEL_NAMES = (EARLY_FUSION, NOISE_AUGMENTATION, EMMA)

#: Seeds of the evaluation and of the grid's reruns when the spec names none (thesis: 10).
DEFAULT_SEEDS: tuple[int, ...] = tuple(range(10))

#: Caps of the section (docs/spec.md, "Limits"): seeds per evaluation or rerun, noise draws
#: per condition, worker processes of the grid. Seeds are 0 <= seed < 2**32 and unique.
MAX_SEEDS = 1000
MAX_NOISE_DRAWS = 100
MAX_WORKERS = 64
SEED_LIMIT = 2**32

#: A seed: what numpy's and torch's generators all accept.
Seed = Annotated[int, Field(ge=0, lt=SEED_LIMIT)]


#: The training settings a variant may change: those of its own stage 2. The rest (base
#: epochs, the loss weighting, the corrupted mix, threads) is shared by every model of a
#: seed and set in the training section.
VARIANT_TRAINING_FIELDS = (
    "epochs",
    "batch_size",
    "lr",
    "patience",
    "lambda_c",
    "lambda_e",
    "anneal",
)

#: Changes a variant makes to the training section (`VARIANT_TRAINING_FIELDS`).
VariantTrainingOverrides = partial_model(
    TrainingSpec, include=VARIANT_TRAINING_FIELDS, name="VariantTrainingOverrides"
)


def emma_model_spec(spec: EmmaSpec) -> EmmaSpec:
    """The ``emma`` model: the spec with its attention enabled."""
    return override(spec, attention=AttentionOverrides(enabled=True))


def bare_spec(spec: EmmaSpec) -> EmmaSpec:
    """The bare network of the spec (``early_fusion``, and ``noise_augmentation``'s)."""
    return override(spec, attention=AttentionOverrides(enabled=False))


def grid_point_spec(spec: EmmaSpec, rho: float, lambda_e: float, lambda_c: float) -> EmmaSpec:
    """The ``emma`` model at one configuration of the grid: ``attention.importance.rho`` and the
    two regularizer weights set."""
    return override(
        spec,
        attention=AttentionOverrides(enabled=True, importance=ComponentPatch(rho=rho)),
        training=TrainingOverrides(lambda_e=lambda_e, lambda_c=lambda_c),
    )


class VariantSpec(BaseModel):
    """A named change to the ``emma`` model, compared with it on the same seeds (an ablation)."""

    model_config = SPEC_MODEL_CONFIG

    name: str = Field(
        min_length=1,
        description="Name shown in the tables, emma[name], and used in file names: letters, "
        "digits, _ . -, starting with a letter or _.",
    )
    attention: AttentionOverrides = Field(
        default_factory=AttentionOverrides,
        description="Changes to the attention section, e.g. {gate: {kind: identity}}: a new "
        "kind replaces a stage, parameters alone update it.",
    )
    training: VariantTrainingOverrides = Field(  # type: ignore[valid-type]
        default_factory=VariantTrainingOverrides,
        description="Training settings of this model that differ, e.g. {lambda_e: 0}; one of "
        + ", ".join(VARIANT_TRAINING_FIELDS)
        + ".",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return check_name(name, "variant name")

    def spec_of(self, spec: EmmaSpec) -> EmmaSpec:
        """The variant's ``emma`` model: ``spec`` with its attention enabled (unless the variant
        says otherwise) and the variant's changes, validated once."""
        attention = self.attention
        if "enabled" not in attention.model_fields_set:
            attention = attention.model_copy(update={"enabled": True})
        return override(spec, attention=attention, training=self.training)


class SweepSpec(BaseModel):
    """A robustness sweep of one mode: a corruption kind with one parameter set to each level."""

    model_config = SPEC_MODEL_CONFIG

    mode: str = Field(min_length=1, description="The mode to corrupt.")
    corruption: Annotated[ComponentSpec, Family("corruption")] = Field(
        description="The corruption kind and its fixed parameters, e.g. {kind: white_noise}."
    )
    param: str = Field(
        min_length=1, description="The parameter that sets the strength, e.g. sigma or snr_db."
    )
    levels: list[float] = Field(
        min_length=1,
        description="Values of param from mild to severe, e.g. [20, 10, 0, -10] for snr_db; "
        "the clean test split is always scored beside them.",
    )

    @model_validator(mode="after")
    def _param_of_the_kind(self) -> SweepSpec:
        registration = type(self.corruption).registration
        if registration is None:  # the loose stand-in: kinds are checked by the full spec
            return self
        fields = sorted(set(registration.params.model_fields) - {"kind"})
        if self.param not in fields:
            raise CrossFieldError.at(
                "param",
                f"{self.param!r} is not a parameter of corruption {self.corruption.kind!r}; "
                f"choose one of {', '.join(fields) or '(it has none)'}",
            )
        for index, level in enumerate(self.levels):
            try:
                registration.params.model_validate({**self.corruption.params(), self.param: level})
            except ValidationError as exc:
                reason = "; ".join(str(error["msg"]) for error in exc.errors())
                raise CrossFieldError.at(
                    f"levels[{index}]", f"{self.param}={level:g}: {reason}"
                ) from None
        return self


PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class GridSpec(BaseModel):
    """The hyperparameter grid of the ``emma`` model (thesis 6.3.2), selected honestly.

    Every configuration is trained once on ``selection_seed`` and ranked on validation data
    only; the ``top`` ones are trained again on each of ``rerun_seeds`` and scored on test.
    """

    model_config = SPEC_MODEL_CONFIG

    rho: list[PositiveFloat] = Field(
        default_factory=lambda: [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        min_length=1,
        description="Coldness values (attention.importance.rho).",
    )
    lambda_e: list[NonNegativeFloat] = Field(
        default_factory=lambda: [0.0, 1e-4, 1e-3, 1e-2, 1e-1],
        min_length=1,
        description="Energy regularizer weights.",
    )
    lambda_c: list[NonNegativeFloat] = Field(
        default_factory=lambda: [0.0, 1e-4, 1e-3, 1e-2, 1e-1],
        min_length=1,
        description="Capacity regularizer weights.",
    )
    top: int = Field(5, ge=1, description="How many configurations are rerun over seeds.")
    rerun_seeds: list[Seed] = Field(
        default_factory=lambda: list(DEFAULT_SEEDS),
        min_length=2,
        max_length=MAX_SEEDS,
        description="Seeds of the reruns of the top configurations (paired with "
        f"noise_augmentation); unique, 0 to 2**32 - 1, at most {MAX_SEEDS}.",
    )
    selection_seed: Seed = Field(
        1000, description="The one seed the grid is selected on; not one of rerun_seeds."
    )
    workers: int = Field(
        2,
        ge=1,
        le=MAX_WORKERS,
        description=f"Worker processes training configurations (at most {MAX_WORKERS}).",
    )

    def issues(self, spec: EmmaSpec) -> Iterator[SpecIssue]:
        """Every rho must fit the spec's importance stage (checked by deriving the point)."""
        for index, rho in enumerate(self.rho):
            try:
                grid_point_spec(spec, rho, self.lambda_e[0], self.lambda_c[0])
            except SpecError as exc:
                reason = "; ".join(str(issue) for issue in exc.issues)
                yield SpecIssue(
                    f"grid.rho[{index}]",
                    f"{rho:g} does not fit the spec's importance stage (the grid sets "
                    f"attention.importance.rho): {reason}",
                )

    @model_validator(mode="after")
    def _consistent(self) -> GridSpec:
        for name in ("rho", "lambda_e", "lambda_c", "rerun_seeds"):
            values: list[Any] = getattr(self, name)
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise CrossFieldError.at(
                    name, f"values must be unique; repeated: {', '.join(map(str, repeated))}"
                )
        n_configs = len(self.rho) * len(self.lambda_e) * len(self.lambda_c)
        if self.top > n_configs:
            raise CrossFieldError.at(
                "top", f"top is {self.top} but the grid has only {n_configs} configurations."
            )
        if self.selection_seed in self.rerun_seeds:
            raise CrossFieldError.at(
                "selection_seed",
                f"selection_seed {self.selection_seed} is one of rerun_seeds: the reported runs "
                "would include the run that won the selection. Pick a seed outside rerun_seeds.",
            )
        return self


class BaselineSpec(BaseModel):
    """Another bare network trained like early_fusion on clean data, scored next to the
    others."""

    model_config = SPEC_MODEL_CONFIG

    name: str = Field(
        min_length=1,
        description="Name shown in the tables and used in file names: letters, digits, _ . -, "
        "starting with a letter or _.",
    )
    network: ComponentPatch = Field(
        default_factory=ComponentPatch,
        description="Changes to the network section, e.g. {reads: [0]} for a one-mode "
        "network; a new kind replaces it.",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return check_name(name, "baseline name")

    def spec_of(self, spec: EmmaSpec) -> EmmaSpec:
        """The baseline: ``spec``'s network with the changes, attention disabled."""
        return override(spec, attention=AttentionOverrides(enabled=False), network=self.network)


class EvaluationSpec(BaseModel):
    """How the models are evaluated and compared."""

    model_config = SPEC_MODEL_CONFIG

    seeds: list[Seed] = Field(
        default_factory=lambda: list(DEFAULT_SEEDS),
        min_length=1,
        max_length=MAX_SEEDS,
        description="Seeds to repeat training and evaluation with; results report the spread. "
        f"Unique, 0 to 2**32 - 1, at most {MAX_SEEDS}.",
    )
    threshold: ThresholdRule = Field(
        "roc_corner",
        description="How each binary model's decision threshold is chosen on its validation "
        "split: roc_corner (the ROC point nearest (0, 1), the original code's) or f1_optimum "
        "(the highest F1 of the positive class).",
    )
    noise_draws: int = Field(
        3,
        ge=1,
        le=MAX_NOISE_DRAWS,
        description="Noise draws averaged per condition in the whole-test evaluation (at most "
        f"{MAX_NOISE_DRAWS}).",
    )
    analyses: bool = Field(
        True, description="Also run the analyses (energies, attention and metric versus noise)."
    )
    variants: list[VariantSpec] = Field(
        default_factory=list, description="Ablations of the emma model, on the same seeds."
    )
    baselines: list[BaselineSpec] = Field(
        default_factory=list,
        description="Further bare networks trained like early_fusion, e.g. one-mode networks.",
    )
    missing_modes: bool = Field(
        False, description="Also score each model with one mode missing (<mode>_missing)."
    )
    sweeps: list[SweepSpec] = Field(
        default_factory=list,
        description="Robustness sweeps of one mode's corruption kind over levels (e.g. pixel "
        "noise sigma on an image, white-noise SNR on audio), run as the corruption_sweep "
        "analysis.",
    )
    grid: GridSpec | None = Field(
        None,
        description="Hyperparameter grid of the emma model (`emma grid`); default: the thesis'.",
    )

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
        if repeated:
            raise ValueError(
                f"seeds must be unique; repeated: {', '.join(map(str, repeated))} (a repeated "
                "seed counts one run twice and understates the spread)"
            )
        return seeds

    def check_spec(self, spec: EmmaSpec) -> Iterator[SpecIssue]:
        """Checks against the whole spec (called by its cross-field checks): sweeps name
        modes of the spec, and every variant, baseline and grid point gives a valid spec,
        derived exactly as the run derives it."""
        for index, sweep in enumerate(self.sweeps):
            yield from unknown_mode_issue(spec, f"sweeps[{index}].mode", sweep.mode)
        for index, variant in enumerate(self.variants):
            yield from _derived_issues(f"variants[{index}]", variant.spec_of, spec)
        for index, baseline in enumerate(self.baselines):
            yield from _derived_issues(f"baselines[{index}]", baseline.spec_of, spec)
        if self.grid is not None:
            yield from self.grid.issues(spec)

    @model_validator(mode="after")
    def _distinct_variants(self) -> EvaluationSpec:
        names = [v.name for v in self.variants]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"variant names must be unique; repeated: {', '.join(duplicates)}")
        baselines = [b.name for b in self.baselines]
        taken = sorted({n for n in baselines if baselines.count(n) > 1 or n in MODEL_NAMES})
        if taken:
            raise ValueError(
                f"baseline names must be unique and differ from {', '.join(MODEL_NAMES)}; "
                f"rename: {', '.join(taken)}"
            )
        return self


def _derived_issues(
    location: str, derive: Callable[[EmmaSpec], EmmaSpec], spec: EmmaSpec
) -> Iterator[SpecIssue]:
    try:
        derive(spec)
    except SpecError as exc:
        for issue in exc.issues:
            yield SpecIssue(f"{location}.{issue.location}", issue.message)


def evaluation_of(spec: EmmaSpec) -> EvaluationSpec:
    """The spec's ``evaluation`` section, or its defaults when the spec has none."""
    section = getattr(spec, "evaluation", None)
    return section if isinstance(section, EvaluationSpec) else EvaluationSpec()
