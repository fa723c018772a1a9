"""`EmmaLightningModule`: a Lightning Trainer trains EMMA with EMMA's objective."""

from __future__ import annotations

import pytest
import torch
from _deploy_samples import small_spec

pytest.importorskip("lightning")

import lightning as L

from emma_plugins import build, parse_spec
from emma_plugins.lightning import EmmaLightningModule, split_loader
from emma_plugins.sources import load_breast_cancer
from emma_plugins.training.loop import FitConfig, evaluate_loss
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.prepare import prepare


def test_a_lightning_trainer_trains_emma_and_keeps_its_constraints() -> None:
    spec = parse_spec(small_spec())
    data = prepare(
        load_breast_cancer(), spec.mode_names, seed=0, corruption=spec.resolved_training.corruption
    )
    torch.manual_seed(0)
    model = build(spec).fit_estimators(data.clean["train"].modes, progress=False)
    loss = ClassificationLoss(data.clean["train"].y, 2)
    before = evaluate_loss(model, data.mixed["val"], loss)
    module = EmmaLightningModule(model, loss, FitConfig(lr=0.01, lambda_c=1e-3, lambda_e=1e-2))
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(
        module,
        split_loader(data.mixed["train"], 32, shuffle=True),
        split_loader(data.mixed["val"], 256),
    )
    assert evaluate_loss(model, data.mixed["val"], loss) < before
    assert all(not p.requires_grad for p in model.attention.estimators.parameters())
    with torch.no_grad():
        constrained = {k: v.clone() for k, v in model.attention.state_dict().items()}
        model.attention.constrain_()
    for key, value in model.attention.state_dict().items():
        torch.testing.assert_close(value, constrained[key], msg=key)  # already projected
