"""The spec sections about data and training.

Each is optional in a spec and forbids unknown keys. They are kept apart from the model
sections so that the training and evaluation code can extend them without touching how a
model is assembled. A field that names a component of a registry family is declared as
``Annotated[ComponentSpec, Family("<family>")]`` and validates against the kinds plugins
register.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from emma_plugins.spec.components import (
    SPEC_MODEL_CONFIG,
    ComponentSpec,
    CrossFieldError,
    Family,
)
from emma_plugins.spec.paths import DataPath, check_data_path

#: Parameter names of a data set that hold paths, which must stay inside the data directory.
_PATH_SUFFIXES = ("dir", "path", "file")


class DataSpec(BaseModel):
    """Which data set feeds the modes."""

    model_config = SPEC_MODEL_CONFIG

    dataset: Annotated[ComponentSpec, Family("dataset")] = Field(
        description="The data set: a registered dataset kind and its parameters."
    )
    data_dir: DataPath | None = Field(
        None,
        description="Folder under the data directory (EMMA_DATA_DIR) holding "
        "<dataset>/<files>; default: the data directory itself.",
    )
    train_fraction: float = Field(
        0.67,  # emma_plugins.sources.splits.TRAIN_FRACTION, kept pandas-free (a test checks)
        gt=0,
        lt=1,
        description="Fraction of each class drawn for training (stratified, seeded by "
        "training.seed); the rest is halved into validation and test. Ignored when the "
        "data set brings its own split (a split column).",
    )

    @model_validator(mode="after")
    def _paths_stay_inside(self) -> DataSpec:
        for name, value in self.dataset.params().items():
            if isinstance(value, str) and name.lower().endswith(_PATH_SUFFIXES):
                try:
                    check_data_path(value)
                except ValueError as exc:
                    raise CrossFieldError.at(f"dataset.{name}", str(exc)) from None
        return self


#: Most torch threads a spec may ask for (``training.threads``); a fixed number, so a spec
#: valid on one machine is valid on every other.
MAX_THREADS = 256
#: Seeds are 32-bit unsigned integers (what numpy's and torch's generators all accept).
SEED_LIMIT = 2**32

#: Coldness annealing's defaults (section 8.1): the initial rho, hot enough that the
#: importance is uniform, and its factor per improving epoch. `ColdnessAnnealing` uses them.
ANNEAL_START = 1e-6
ANNEAL_FACTOR = 3.0


class AnnealSpec(BaseModel):
    """Coldness annealing (section 8.1): start hot, cool while validation improves."""

    model_config = SPEC_MODEL_CONFIG

    start: float = Field(
        ANNEAL_START, gt=0, description="Initial coldness rho (hot: uniform importance)."
    )
    factor: float = Field(
        ANNEAL_FACTOR, gt=1, description="rho is multiplied by this after each improving epoch."
    )


class LoaderSpec(BaseModel):
    """How training batches are read: all in memory (the fast path for tables), or decoded
    per batch in worker processes for data sets larger than memory."""

    model_config = SPEC_MODEL_CONFIG

    stream: bool = Field(
        False,
        description="Decode samples only when a batch needs them (folder data sets: "
        "image_folder, audio_folder), so the data set never sits in memory whole.",
    )
    num_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Worker processes decoding batches while the model trains (streaming). "
        "0 decodes in the training process: right for tables and for 2 cores.",
    )
    pin_memory: bool | None = Field(
        None, description="Page-locked batches for faster copies to a GPU; default: on CUDA."
    )
    persistent_workers: bool = Field(
        True, description="Keep the worker processes between epochs (with num_workers > 0)."
    )
    prefetch_factor: int | None = Field(
        None, ge=1, description="Batches each worker loads ahead (torch's default: 2)."
    )


class CorruptionTrainingSpec(BaseModel):
    """The corrupted mix of stage 2: a clean share, the rest one failing mode each."""

    model_config = SPEC_MODEL_CONFIG

    sigma: float = Field(0.5, gt=0, description="Gaussian noise std, in standardized units.")
    clean_fraction: float = Field(
        0.5, ge=0, lt=1, description="Share of clean samples; the rest is split evenly by mode."
    )
    per_mode: dict[str, Annotated[ComponentSpec, Family("corruption")]] = Field(
        default_factory=dict,
        description="Mode name -> its own corruption kind, e.g. {image: {kind: pixel_noise, "
        "sigma: 1.0}, audio: {kind: white_noise, snr_db: 0}}; modes not named get Gaussian "
        "noise sigma. Used in the training mix and the evaluation's <mode>_noisy conditions.",
    )


class TrainingSpec(BaseModel):
    """How the models are trained; the defaults are the thesis' (sections 6.3 and B)."""

    model_config = SPEC_MODEL_CONFIG

    seed: int = Field(
        0,
        ge=0,
        lt=SEED_LIMIT,
        description="Seed of initialisation, shuffling and corruption (0 to 2**32 - 1).",
    )
    base_epochs: int = Field(
        30, ge=0, description="Stage 1: epochs of the network alone (early fusion)."
    )
    epochs: int = Field(30, ge=0, description="Stage 2: epochs of noise augmentation and of EMMA.")
    batch_size: int = Field(32, ge=1, description="Mini-batch size.")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate.")
    patience: int | None = Field(
        None, ge=1, description="Stop after this many epochs without a better validation loss."
    )
    balanced_loss: bool = Field(
        True, description="Weight each sample by the inverse frequency of its class."
    )
    lambda_c: float = Field(1e-3, ge=0, description="Weight of the capacity regularizer (5.10).")
    lambda_e: float = Field(1e-2, ge=0, description="Weight of the energy regularizer (5.10).")
    anneal: AnnealSpec | None = Field(None, description="Anneal the coldness (section 8.1).")
    corruption: CorruptionTrainingSpec = Field(
        default_factory=dict,
        validate_default=True,
        description="The corrupted training mix.",
    )
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$",
        description="Where to train: auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N "
        "or mps; --device overrides it.",
    )
    precision: Literal["32", "bf16", "16-mixed"] = Field(
        "32",
        description="The network's forward precision: float32, bfloat16 autocast, or float16 "
        "autocast with a gradient scaler. Potentials, the Boltzmann normalisation and the "
        "regularizers stay float32.",
    )
    loader: LoaderSpec = Field(
        default_factory=LoaderSpec, description="How batches are read (streaming, workers)."
    )
    false_alarm_rate: float = Field(
        0.01,
        gt=0,
        lt=0.5,
        description="emma fit: the fraction of clean validation rows allowed to raise a "
        "mode's failed flag (and the uncertain flag); sets the calibrated thresholds.",
    )
    threads: int = Field(
        1,
        ge=1,
        le=MAX_THREADS,
        description=f"torch threads (at most {MAX_THREADS}); small models train fastest on one "
        "thread.",
    )
