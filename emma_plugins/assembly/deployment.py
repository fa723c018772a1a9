"""What a trained model needs beyond its weights to take raw rows: the `Deployment` record.

`emma fit` stores it in the model directory as ``deployment.json``; `emma predict`, `emma
export` and the scikit-learn estimator read it back. It holds, per mode, the source columns
in order, the scaler fitted on the training split and the missing-value policy; the class
names; and the failure thresholds calibrated on clean validation data. It is plain,
validated JSON, so a model directory holds no pickled code.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from emma_plugins.spec.models import MissingPolicy

_STRICT = ConfigDict(extra="forbid", frozen=True)


class ModeInput(BaseModel):
    """One mode's raw columns, their training mean and spread, and its missing policy."""

    model_config = _STRICT

    columns: list[str] = Field(min_length=1, description="Source columns, in model order.")
    mean: list[float] = Field(description="Training mean of each column.")
    std: list[float] = Field(description="Training standard deviation (> 0) of each column.")
    on_missing: MissingPolicy = "error"

    @model_validator(mode="after")
    def _aligned(self) -> ModeInput:
        if not len(self.columns) == len(self.mean) == len(self.std):
            raise ValueError(
                f"columns, mean and std need one entry per column; got {len(self.columns)}, "
                f"{len(self.mean)} and {len(self.std)}."
            )
        if not all(math.isfinite(v) for v in self.mean) or not all(
            math.isfinite(v) and v > 0 for v in self.std
        ):
            raise ValueError("mean must be finite and std finite and positive.")
        return self


class Thresholds(BaseModel):
    """Energies above which a mode (or the whole sample) counts as failed.

    Each is the ``1 - false_alarm_rate`` quantile of the energy on clean validation rows,
    so about that fraction of clean rows is flagged. ``observed`` holds the rates measured
    at calibration (clean validation, and corrupted validation where the fit had one).
    """

    model_config = _STRICT

    false_alarm_rate: float = Field(gt=0, lt=1)
    energy: Literal["modal_energy", "potential"] = "modal_energy"
    modes: dict[str, float]
    total: float
    n_rows: int = Field(ge=1, description="Clean validation rows the quantiles came from.")
    observed: dict[str, dict[str, float]] = Field(default_factory=dict)

    @field_validator("modes")
    @classmethod
    def _finite(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"threshold of mode {bad[0]!r} is not finite.")
        return value


class Deployment(BaseModel):
    """Everything besides the weights that turns raw rows into predictions and failure flags."""

    model_config = _STRICT

    format: Literal[1] = 1
    task: Literal["binary", "multiclass"]
    class_names: list[str] = Field(min_length=2)
    label: str | None = Field(None, description="The training table's label column.")
    modes: dict[str, ModeInput] = Field(min_length=1)
    thresholds: Thresholds | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Deployment:
        if self.task == "binary" and len(self.class_names) != 2:
            raise ValueError(f"a binary task has 2 class names, got {len(self.class_names)}.")
        if self.thresholds is not None and set(self.thresholds.modes) != set(self.modes):
            raise ValueError(
                f"thresholds name modes {sorted(self.thresholds.modes)} but the deployment "
                f"has {sorted(self.modes)}."
            )
        return self

    def with_thresholds(self, thresholds: Thresholds) -> Deployment:
        return self.model_copy(update={"thresholds": thresholds})


__all__ = ["Deployment", "MissingPolicy", "ModeInput", "Thresholds"]
