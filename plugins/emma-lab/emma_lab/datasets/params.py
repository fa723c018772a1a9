"""Parameter models of the thesis data sets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FileDatasetParams(BaseModel):
    """Parameters of a data set read from ``<data_dir>/<name>/`` (downloaded when absent)."""

    model_config = ConfigDict(extra="forbid")

    data_dir: str | None = Field(
        default=None,
        description="Folder holding <name>/<files>; default $EMMA_DATA_DIR, else the user cache.",
    )
    download: bool = Field(
        default=True, description="Download from UCI (checksum-verified) when the files are absent."
    )


class SpokenDigitParams(FileDatasetParams):
    """Parameters of the FSDD-based data sets (official test split, log-mel features)."""

    download: bool = Field(
        default=True,
        description="Download the pinned FSDD archive (fingerprint-verified) when no recording "
        "is present.",
    )
    seed: int = Field(default=0, description="Seed of the validation carve (and of pairings).")
    val_fraction: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="Share of training takes moved to validation."
    )
    n_mels: int = Field(default=32, ge=4, le=128, description="Mel bands F of a spectrogram.")
    n_frames: int = Field(default=32, ge=4, le=256, description="Time frames T of a spectrogram.")


class PointSetParams(BaseModel):
    """Parameters of a generated 2-D point set."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=1000, gt=0, description="Number of points.")
    seed: int = Field(default=0, description="Seed of the angles drawn on the manifold.")
