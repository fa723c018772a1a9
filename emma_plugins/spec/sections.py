"""The spec sections about data, training and evaluation.

Each is optional in a spec and forbids unknown keys. They are kept apart from the model
sections so that the training and evaluation code can extend them without touching how a
model is assembled. A field that names a component of a registry family is declared as
``Annotated[ComponentSpec, Family("<family>")]`` and validates against the kinds plugins
register.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .components import ComponentSpec, CrossFieldError, Family
from .paths import DataPath, check_data_path

#: Parameter names of a data set that hold paths, which must stay inside the data directory.
_PATH_SUFFIXES = ("dir", "path", "file")


class DataSpec(BaseModel):
    """Which data set feeds the modes."""

    model_config = ConfigDict(extra="forbid")

    dataset: Annotated[ComponentSpec, Family("dataset")] = Field(
        description="The data set: a registered dataset kind and its parameters."
    )
    data_dir: DataPath | None = Field(
        None,
        description="Folder under the data directory (EMMA_DATA_DIR) holding "
        "<dataset>/<files>; default: the data directory itself.",
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


class TrainingSpec(BaseModel):
    """How the model is trained (stage 2, end to end)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, description="Seed of initialisation, shuffling and corruption.")
    epochs: int = Field(30, ge=0, description="Training epochs.")
    batch_size: int = Field(32, ge=1, description="Mini-batch size.")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate.")


class EvaluationSpec(BaseModel):
    """How a trained model is evaluated."""

    model_config = ConfigDict(extra="forbid")

    seeds: list[int] = Field(
        default_factory=lambda: [0],
        min_length=1,
        description="Seeds to repeat training and evaluation with; results report the spread.",
    )
