"""Out-of-distribution replacement: values the model never saw, or rows of another class."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

from emma_plugins.corruptions.base import (
    Corruption,
    CorruptionContext,
    CorruptionError,
    draw_uniform,
)

Strategy = Literal["uniform_box", "other_class"]


class OODParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Strategy = Field(
        default="uniform_box",
        description="uniform_box: uniform values in a wide box; other_class: rows of the "
        "same mode taken from samples of another class.",
    )
    low: float = Field(default=-10.0, description="Box lower edge, in training std units.")
    high: float = Field(default=10.0, description="Box upper edge, in training std units.")

    @model_validator(mode="after")
    def _box_is_ordered(self) -> OODParams:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class OutOfDistribution(Corruption):
    """Replace the rows by out-of-distribution values.

    ``uniform_box``: each value uniform in ``[mean + low * std, mean + high * std]`` per
    feature (training statistics from the context; 0 and 1 on standardized data), so most
    rows land far outside the training cloud. ``other_class``: each row becomes a random
    row of the same mode from a sample of a different class, realistic values that
    contradict the rest of the sample.
    """

    def __init__(self, strategy: Strategy = "uniform_box", low: float = -10.0, high: float = 10.0):
        if strategy not in ("uniform_box", "other_class"):
            raise CorruptionError(
                f"ood strategy must be 'uniform_box' or 'other_class', got {strategy!r}."
            )
        if not low < high:
            raise CorruptionError(f"ood low ({low}) must be below high ({high}).")
        self.strategy: Strategy = strategy
        self.low = float(low)
        self.high = float(high)

    def __call__(
        self, x: Tensor, *, generator: torch.Generator, context: CorruptionContext
    ) -> Tensor:
        if self.strategy == "uniform_box":
            return self._uniform_box(x, generator, context)
        return self._other_class(x, generator, context)

    def _uniform_box(self, x: Tensor, generator: torch.Generator, ctx: CorruptionContext) -> Tensor:
        box = self.low + (self.high - self.low) * draw_uniform(x, generator)
        if ctx.std is not None:
            box = box * ctx.std.to(x)
        if ctx.mean is not None:
            box = box + ctx.mean.to(x)
        return box

    def _other_class(self, x: Tensor, generator: torch.Generator, ctx: CorruptionContext) -> Tensor:
        ctx.require("labels", "pool", "pool_labels", kind="ood/other_class")
        assert ctx.labels is not None and ctx.pool is not None and ctx.pool_labels is not None
        labels = ctx.labels.to(torch.long).cpu()
        pool_labels = ctx.pool_labels.to(torch.long).cpu()
        if len(labels) == 0:
            return x.clone()
        n_classes = int(torch.cat([labels, pool_labels]).max()) + 1
        counts = torch.bincount(pool_labels, minlength=n_classes)
        others = len(pool_labels) - counts[labels]  # pool rows of another class, per row
        if int(others.min()) == 0:
            raise CorruptionError(
                f"ood/other_class on mode {ctx.mode!r}: the pool holds no sample of a class "
                "other than that of some corrupted row; it needs at least two classes."
            )
        # Pool sorted by class; draw among the rows outside each row's own class block.
        order = torch.argsort(pool_labels, stable=True)
        block_start = torch.cumsum(counts, 0) - counts
        u = torch.rand(len(labels), generator=generator, device=generator.device).cpu()
        pick = (u * others).long().clamp_max(others - 1)
        own_start = block_start[labels]
        pick = pick + (pick >= own_start).long() * counts[labels]
        return ctx.pool[order[pick].to(ctx.pool.device)].clone().to(x)
