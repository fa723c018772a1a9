"""Registers the built-in data sets: htru2, mfeat, breast_cancer, wave and circle."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..hookspecs import Register, hookimpl
from .breast_cancer import load_breast_cancer
from .htru2 import load_htru2
from .mfeat import load_mfeat
from .point_sets import load_circle, load_wave


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


class PointSetParams(BaseModel):
    """Parameters of a generated 2-D point set."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=1000, gt=0, description="Number of points.")
    seed: int = Field(default=0, description="Seed of the angles drawn on the manifold.")


@hookimpl
def register_datasets(register: Register) -> None:
    register("htru2", load_htru2, FileDatasetParams)
    register("mfeat", load_mfeat, FileDatasetParams)
    register("breast_cancer", load_breast_cancer)
    register("wave", load_wave, PointSetParams)
    register("circle", load_circle, PointSetParams)
