"""Bench files: one per data set, naming the EMMA spec, the peers and the test protocol.

A bench file (YAML, TOML or JSON) holds an ordinary EMMA spec (``spec``: modes,
attention, the base network, data and training sections), the peers as network sections
(``peers``; each runs with the attention disabled), EMMA's variants as attention patches
(``emma``) and the test conditions (``protocol``). The data sets of ``emma bench`` are
the bench files of a folder, so adding a data set is adding a file.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from emma_lab.robustness.failures import BOOTSTRAP_RESAMPLES
from emma_lab.spec import EARLY_FUSION, NOISE_AUGMENTATION
from emma_plugins.core.errors import EmmaError, SpecError
from emma_plugins.core.plugins import get_registry
from emma_plugins.corruptions import Corruption, make_corruption
from emma_plugins.spec import EmmaSpec, TrainingSpec, parse_spec
from emma_plugins.spec.load import READERS, read_spec_file
from emma_plugins.spec.overrides import (
    AttentionOverrides,
    ComponentPatch,
    TrainingOverrides,
    override,
)

#: Environment variable naming the folder of bench files.
BENCH_DIR_ENV = "EMMA_BENCH_DIR"
#: The bench files shipped inside the package (package data, so a wheel carries them).
PACKAGED_BENCH_DIR = Path(__file__).resolve().parents[1] / "bench_specs"
#: The data sets ``emma bench robustness`` runs when none are named.
DEFAULT_DATASETS = ("htru2", "mfeat")
#: The suites of test conditions: the standard one, and the failures nobody trained for.
SUITES = ("standard", "unanticipated")


class FailureSpec(BaseModel):
    """One failure kind of the unanticipated suite: a registered corruption kind, the
    levels of its severity parameter (mild to severe; none for kinds without one, such as
    ``ood`` and ``missing``) and the modes it may hit (default: every mode)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, description="A registered corruption kind.")
    severities: list[float] | None = Field(
        None,
        min_length=1,
        description="Levels of the kind's severity parameter, mild to severe; null for a "
        "kind without one.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Further parameters of the kind, fixed."
    )
    modes: list[str] | None = Field(
        None, description="Modes this failure may hit (default: every mode)."
    )

    def levels(self) -> list[float | None]:
        """The severities, or one ``None`` for a kind without them."""
        return list(self.severities) if self.severities is not None else [None]

    def corruptions(self) -> list[tuple[float | None, Corruption]]:
        """``(severity, corruption)`` for each level (one ``(None, ...)`` without levels)."""
        if self.severities is None:
            return [(None, make_corruption({"kind": self.kind, **self.params}))]
        parameter = severity_parameter(self.kind)
        return [
            (level, make_corruption({"kind": self.kind, **self.params, parameter: level}))
            for level in self.severities
        ]


def severity_parameter(kind: str) -> str:
    """The parameter of corruption ``kind`` that sets how bad the failure is."""
    parameter = getattr(make_corruption(kind), "severity", None)
    if parameter is None:
        raise ValueError(
            f"corruption kind {kind!r} declares no severity parameter; give it no severities"
        )
    return str(parameter)


def _tabular_failures() -> list[FailureSpec]:
    levels: dict[str, list[float] | None] = {
        "stuck": [0.0, 2.0, 4.0],
        "drift": [1.0, 2.0, 4.0],
        "gain": [2.0, 4.0, 8.0],
        "clip": [90.0, 75.0, 60.0],
        "quantize": [8.0, 4.0, 2.0],
        "impulse": [0.1, 0.25, 0.5],
        "ood": None,
        "missing": None,
    }
    return [FailureSpec(kind=kind, severities=severities) for kind, severities in levels.items()]


class UnanticipatedSpec(BaseModel):
    """The suite of failures nobody trained for (``--suite unanticipated``): each failure
    at each severity on one mode at a time, and on ``counts`` modes at once (every subset
    of the modes it may hit, spread evenly over the samples). Training, model selection and
    thresholds stay on the training corruption (one-mode Gaussian noise)."""

    model_config = ConfigDict(extra="forbid")

    failures: list[FailureSpec] = Field(
        default_factory=_tabular_failures,
        min_length=1,
        description="The failure kinds and their severities.",
    )
    counts: list[int] = Field(
        default_factory=lambda: [1, 2],
        min_length=1,
        description="How many modes fail at once (1: each mode in turn).",
    )
    seeds: int | None = Field(
        None, ge=1, description="Seeds of the suite (default: the protocol's)."
    )
    bootstrap: int = Field(
        BOOTSTRAP_RESAMPLES, ge=100, description="Bootstrap resamples of the mean ranks."
    )


class EmmaVariantPatch(AttentionOverrides):  # type: ignore[misc,valid-type]
    """An EMMA variant: changes to the spec's attention section, plus optional changes to
    its training section (e.g. ``lambda_e: 0``) and its network (e.g. per-mode experts
    with ``apply_to: encodings``; such a variant gets its own early-fusion start)."""

    training: TrainingOverrides | None = None  # type: ignore[valid-type]
    network: ComponentPatch | None = None

    def attention_part(self) -> AttentionOverrides:
        """The attention changes alone."""
        given = self.model_dump(mode="json", exclude_unset=True, exclude={"training", "network"})
        return AttentionOverrides.model_validate(given)


class MultiModeSpec(BaseModel):
    """Gaussian noise on several modes at once: for each count ``k``, every sample gets
    ``sigma`` on ``k`` of its modes, the subsets spread evenly over the samples."""

    model_config = ConfigDict(extra="forbid")

    counts: list[int] = Field(min_length=1, description="How many modes are noisy at once.")
    sigma: float = Field(1.0, gt=0, description="Noise std on each of the noisy modes.")


class ProtocolSpec(BaseModel):
    """The test conditions and the comparison; every method sees the same ones."""

    model_config = ConfigDict(extra="forbid")

    seeds: int = Field(5, ge=1, description="Number of seeds (0 .. seeds-1).")
    noise_levels: list[float] = Field(
        default_factory=lambda: [0.0, 0.5, 1.0, 2.0, 3.0],
        description="Gaussian noise std on one mode at a time; starts at 0 (clean), "
        "strictly increasing, past the training noise.",
    )
    ood: dict[str, Any] | None = Field(
        default_factory=lambda: {"kind": "ood", "strategy": "uniform_box"},
        description="Corruption replacing one mode at a time; null: no OOD conditions.",
    )
    missing: bool = Field(True, description="Conditions with one mode missing at a time.")
    multi_mode: MultiModeSpec | None = Field(None, description="Several noisy modes at once.")
    peer_epochs: int | None = Field(
        None,
        ge=1,
        description="Epochs of the peers, trained from scratch on the corrupted mix; "
        "default: base_epochs + epochs, the budget of noise augmentation and EMMA.",
    )
    candidates: list[str] | None = Field(
        None,
        description="Methods the best peer is chosen from (on validation); default: every "
        "method that is not EMMA.",
    )
    peer_start: Literal["clean", "scratch"] = Field(
        "clean",
        description="How the peers start: clean (their own network first trained on clean "
        "data for base_epochs, then on the corrupted mix for epochs: the start EMMA and noise "
        "augmentation get from early fusion) or scratch (peer_epochs on the mix from random "
        "weights).",
    )
    failures: UnanticipatedSpec | None = Field(
        None, description="The unanticipated failures tested (set by --suite unanticipated)."
    )

    @field_validator("noise_levels")
    @classmethod
    def _levels(cls, levels: list[float]) -> list[float]:
        if len(levels) < 2 or levels[0] != 0 or np.any(np.diff(levels) <= 0):
            raise ValueError(
                f"noise_levels must start at 0 and increase strictly, e.g. [0, 0.5, 1, 2, 3]; "
                f"got {levels}"
            )
        return levels


class QuickSpec(BaseModel):
    """The short version (``--quick``): fewer seeds and epochs, a stratified subset."""

    model_config = ConfigDict(extra="forbid")

    seeds: int = Field(2, ge=1, description="Seeds of the short version.")
    epochs: int = Field(3, ge=1, description="Cap on every epoch count, estimators included.")
    max_samples: int | None = Field(600, ge=30, description="Rows kept (stratified subset).")


class BenchSpec(BaseModel):
    """One data set's benchmark; see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Name of the data set's benchmark.")
    description: str = Field("", description="One line shown in the report.")
    spec: dict[str, Any] = Field(description="The EMMA spec; its network is early fusion.")
    peers: dict[str, ComponentPatch] = Field(
        default_factory=dict,
        description="Peer name -> changes to the spec's network section (attention off); "
        "a new kind replaces it.",
    )
    emma: dict[str, EmmaVariantPatch] = Field(
        default_factory=lambda: {
            "emma": EmmaVariantPatch.model_validate({"modal_energy": {"kind": "coupled"}}),
            "emma_self_only": EmmaVariantPatch.model_validate(
                {"modal_energy": {"kind": "self_only"}}
            ),
        },
        min_length=1,
        description="EMMA variant name -> changes to the spec's attention section (and "
        "optionally its training and network sections).",
    )
    protocol: ProtocolSpec = Field(default_factory=ProtocolSpec)
    unanticipated: UnanticipatedSpec = Field(
        default_factory=UnanticipatedSpec,
        description="The failures of ``--suite unanticipated`` (default: the tabular kinds).",
    )
    quick: QuickSpec = Field(default_factory=QuickSpec)

    @model_validator(mode="after")
    def _consistent(self) -> BenchSpec:
        names = [EARLY_FUSION, NOISE_AUGMENTATION, *self.emma, *self.peers]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"method names must be unique; {repeated} repeat (early_fusion and "
                "noise_augmentation are taken)"
            )
        spec = self.emma_spec()
        if spec.data is None or spec.network is None:
            raise ValueError("spec needs a data section and a network section (early fusion)")
        for name in self.emma:
            self.variant_spec(name)
        for name in self.peers:
            self.peer_spec(name)
        unknown = sorted(set(self.protocol.candidates or []) - set(self.alternatives))
        if unknown:
            raise ValueError(
                f"protocol.candidates names {unknown}, which are not peers; choose from "
                f"{self.alternatives}"
            )
        counts = self.protocol.multi_mode.counts if self.protocol.multi_mode else []
        bad = [k for k in counts if not 1 <= k < len(spec.modes)]
        if bad:
            raise ValueError(
                f"protocol.multi_mode.counts {bad} must lie in 1..{len(spec.modes) - 1} "
                f"(the spec has {len(spec.modes)} modes)"
            )
        if self.protocol.ood is not None:
            make_corruption(self.protocol.ood)
        self._check_failures(spec.mode_names)
        return self

    def _check_failures(self, mode_names: Sequence[str]) -> None:
        suite = self.unanticipated
        for i, failure in enumerate(suite.failures):
            unknown = sorted(set(failure.modes or []) - set(mode_names))
            if unknown:
                raise ValueError(
                    f"unanticipated.failures.{i}.modes names {unknown}, which are not modes; "
                    f"choose from {list(mode_names)}"
                )
            try:
                failure.corruptions()
            except (EmmaError, ValueError) as exc:
                raise ValueError(f"unanticipated.failures.{i} ({failure.kind}): {exc}") from None
        bad = [k for k in suite.counts if not 1 <= k <= len(mode_names)]
        if bad:
            raise ValueError(
                f"unanticipated.counts {bad} must lie in 1..{len(mode_names)} "
                f"(the spec has {len(mode_names)} modes)"
            )

    # -- the specs of the methods ----------------------------------------------------------
    def _parse(self, data: Mapping[str, Any], where: str) -> EmmaSpec:
        try:
            return parse_spec(data, source=f"bench {self.name!r}: {where}")
        except SpecError as exc:
            raise ValueError(str(exc)) from None

    def emma_spec(self) -> EmmaSpec:
        """The spec: its network is early fusion; with attention, EMMA."""
        return self._parse(self.spec, "spec")

    def _derive(self, where: str, **overrides: Any) -> EmmaSpec:
        try:
            return override(self.emma_spec(), source=f"bench {self.name!r}: {where}", **overrides)
        except SpecError as exc:
            raise ValueError(str(exc)) from None

    def variant_spec(self, name: str) -> EmmaSpec:
        """EMMA variant ``name``: the spec with its attention enabled and changed (and its
        training and network sections, where the variant changes them)."""
        patch = self.emma[name]
        attention = patch.attention_part()
        if "enabled" not in attention.model_fields_set:
            attention = attention.model_copy(update={"enabled": True})
        return self._derive(
            f"emma.{name}", attention=attention, training=patch.training, network=patch.network
        )

    def peer_spec(self, name: str) -> EmmaSpec:
        """Peer ``name``: the spec with the peer's network and the attention disabled."""
        return self._derive(
            f"peers.{name}",
            attention=AttentionOverrides(enabled=False),
            network=self.peers[name],
        )

    @property
    def alternatives(self) -> list[str]:
        """Every method that is not EMMA: what one would pick instead."""
        return [EARLY_FUSION, NOISE_AUGMENTATION, *self.peers]

    @property
    def candidates(self) -> list[str]:
        """The methods the best peer is chosen from."""
        return list(self.protocol.candidates or self.alternatives)

    @property
    def methods(self) -> list[str]:
        """Every method, in table order."""
        return [EARLY_FUSION, NOISE_AUGMENTATION, *self.emma, *self.peers]

    def with_device(self, device: str | None) -> BenchSpec:
        """The bench with its spec's ``training.device`` set to ``device`` (``--device``;
        unchanged when None): every method of every seed trains and is scored there."""
        if device is None:
            return self
        spec = copy.deepcopy(self.spec)
        spec.setdefault("training", {})["device"] = device
        return self.model_copy(update={"spec": spec})

    def with_suite(self, suite: str) -> BenchSpec:
        """The bench testing ``suite`` (`SUITES`): ``unanticipated`` adds its failures to
        the protocol's conditions and takes its seed count."""
        if suite not in SUITES:
            raise EmmaError(f"unknown suite {suite!r}; choose from {', '.join(SUITES)}")
        if suite == "standard":
            return self
        failures = self.unanticipated
        update: dict[str, Any] = {"failures": failures}
        if failures.seeds is not None:
            update["seeds"] = failures.seeds
        return self.model_copy(update={"protocol": self.protocol.model_copy(update=update)})

    # -- the short version -----------------------------------------------------------------
    def quick_version(self) -> BenchSpec:
        """Fewer seeds, every epoch count capped at ``quick.epochs``; the subset is taken
        when the data is loaded (`max_samples`)."""
        cap = self.quick.epochs
        spec = copy.deepcopy(self.spec)
        training = spec.setdefault("training", {})
        for key in ("base_epochs", "epochs"):
            default = TrainingSpec.model_fields[key].default
            training[key] = min(int(training.get(key, default)), cap)
        estimators = get_registry("estimator")
        for mode in spec["modes"]:
            estimator = mode.get("estimator", {})
            fields = estimators.get(estimator.get("kind", "dae")).params.model_fields
            if "epochs" in fields:
                default = fields["epochs"].default
                estimator["epochs"] = min(int(estimator.get("epochs", default)), cap)
        protocol = self.protocol.model_copy(
            update={
                "seeds": self.quick.seeds,
                "peer_epochs": min(self.protocol.peer_epochs or 2 * cap, 2 * cap),
            }
        )
        return self.model_copy(update={"spec": spec, "protocol": protocol})


def parse_bench(data: Mapping[str, Any], *, source: str = "bench") -> BenchSpec:
    """Validate a bench mapping; errors name the file and the field."""
    try:
        return BenchSpec.model_validate(dict(data))
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}" for err in exc.errors()
        ]
        raise SpecError(f"{source}: invalid bench file\n" + "\n".join(lines)) from None


def load_bench(path: str | os.PathLike[str]) -> BenchSpec:
    """Read and validate a bench file (``.yaml``, ``.yml``, ``.toml`` or ``.json``)."""
    return parse_bench(read_spec_file(path), source=str(path))


def bench_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """The folder of bench files: the argument, else ``$EMMA_BENCH_DIR``, else the bench
    files installed with the package."""
    chosen = directory or os.environ.get(BENCH_DIR_ENV, "").strip() or PACKAGED_BENCH_DIR
    return Path(chosen)


def available_benches(directory: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Data set name -> bench file, for every bench file of the folder."""
    folder = bench_dir(directory)
    if not folder.is_dir():
        return {}
    return {path.stem: path for path in sorted(folder.iterdir()) if path.suffix.lower() in READERS}


def resolve_benches(
    names: Sequence[str] | None = None, directory: str | os.PathLike[str] | None = None
) -> list[BenchSpec]:
    """Bench specs for data set names (or bench file paths); default `DEFAULT_DATASETS`."""
    known = available_benches(directory)
    out = []
    for name in names or DEFAULT_DATASETS:
        path = Path(name)
        if path.suffix.lower() in READERS and path.is_file():
            out.append(load_bench(path))
        elif name in known:
            out.append(load_bench(known[name]))
        else:
            where = bench_dir(directory)
            raise EmmaError(
                f"no bench file for data set {name!r} in {where} (available: "
                f"{', '.join(known) or 'none'}). Pass a bench file path, --bench-dir, or set "
                f"{BENCH_DIR_ENV}."
            )
    return out
