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
from typing import Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from emma_lab.spec import EARLY_FUSION, NOISE_AUGMENTATION
from emma_plugins.core.errors import EmmaError, SpecError
from emma_plugins.core.plugins import get_registry
from emma_plugins.corruptions import make_corruption
from emma_plugins.spec import EmmaSpec, TrainingSpec, parse_spec
from emma_plugins.spec.load import READERS, read_spec_file
from emma_plugins.spec.overrides import AttentionOverrides, ComponentPatch, override

#: Environment variable naming the folder of bench files.
BENCH_DIR_ENV = "EMMA_BENCH_DIR"
#: The bench files shipped inside the package (package data, so a wheel carries them).
PACKAGED_BENCH_DIR = Path(__file__).resolve().parents[1] / "bench_specs"
#: The data sets ``emma bench robustness`` runs when none are named.
DEFAULT_DATASETS = ("htru2", "mfeat")


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
    emma: dict[str, AttentionOverrides] = Field(
        default_factory=lambda: {
            "emma": AttentionOverrides.model_validate({"modal_energy": {"kind": "coupled"}}),
            "emma_self_only": AttentionOverrides.model_validate(
                {"modal_energy": {"kind": "self_only"}}
            ),
        },
        min_length=1,
        description="EMMA variant name -> changes to the spec's attention section.",
    )
    protocol: ProtocolSpec = Field(default_factory=ProtocolSpec)
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
        return self

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
        """EMMA variant ``name``: the spec with its attention enabled and changed."""
        attention = self.emma[name]
        if "enabled" not in attention.model_fields_set:
            attention = attention.model_copy(update={"enabled": True})
        return self._derive(f"emma.{name}", attention=attention)

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
