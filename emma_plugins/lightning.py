"""EMMA inside a PyTorch Lightning project (the ``lightning`` extra).

`EmmaLightningModule` trains stage 2 (EMMA plus the network, its estimators fitted and
frozen) with the same objective as EMMA's own trainer (`emma_plugins.training.loop.
objective`): the task loss, the capacity and energy regularizers, and the attention's
constraints projected back after every step. Lightning then owns devices, precision,
strategies, logging and checkpoints. `split_loader` serves a split's batches with their
indices, which networks that keep per-sample state need.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.training.batches import TensorSplit
from emma_plugins.training.loop import FitConfig, LossFn, objective


def split_loader(
    split: TensorSplit, batch_size: int, *, shuffle: bool = False, seed: int = 0
) -> DataLoader[Any]:
    """Batches ``(index, modes..., y, missing, xi)`` of an in-memory split."""
    index = torch.arange(len(split))
    data = TensorDataset(index, *split.modes, split.y, split.missing, split.xi)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)


def _unpack(batch: list[Tensor]) -> tuple[Tensor, TensorSplit]:
    index, *modes, y, missing, xi = batch
    return index, TensorSplit(list(modes), y, missing, xi)


class EmmaLightningModule(L.LightningModule):
    """Stage 2 of ``model`` (estimators already fitted) as a LightningModule."""

    def __init__(self, model: EmmaModel, loss_fn: LossFn, config: FitConfig) -> None:
        super().__init__()
        if model.attention is None:
            raise ValueError("EmmaLightningModule trains EMMA: build the model with attention.")
        self.model, self.loss_fn, self.config = model, loss_fn, config

    def training_step(self, batch: list[Tensor], batch_idx: int) -> Tensor:
        index, split = _unpack(batch)
        loss = objective(
            self.model, split, self.loss_fn, self.config, epoch=self.current_epoch + 1, index=index
        )
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: list[Tensor], batch_idx: int) -> Tensor:
        _, split = _unpack(batch)
        loss = self.loss_fn(self.model(split.modes, split.missing).output, split.y)
        self.log("val_loss", loss, prog_bar=True)
        return loss

    def on_train_epoch_start(self) -> None:
        assert self.model.attention is not None
        self.model.attention.estimators.eval()  # frozen estimators stay in eval mode

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        assert self.model.attention is not None
        with torch.no_grad():
            self.model.attention.constrain_()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        return torch.optim.Adam(trainable, lr=self.config.lr)


__all__ = ["EmmaLightningModule", "split_loader"]
