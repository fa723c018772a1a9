"""The methods of the benchmark and how each is trained on one seed.

* ``early_fusion``: the spec's network alone on clean data (experiment 1's ``base``);
* ``noise_augmentation``: its weights fine-tuned on the corrupted mix (``without``);
* EMMA's variants: the base weights plus a fresh EMMA, trained on the corrupted mix
  (``with``; stage 1 is fitted once per seed and shared);
* the peers: built from the spec with their own network and no attention, trained from
  scratch on the same corrupted mix, with their own loss where the network defines one.

Every model stops early on the corrupted validation mix (early fusion: the clean one) and
takes its decision threshold from the same validation data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import torch

from emma_plugins.assembly.model import EmmaModel
from emma_plugins.training.loop import fit
from emma_lab.experiments.protocol import SeedData, choose_threshold
from emma_lab.experiments.runner import model_factory
from emma_lab.experiments.comparison import (
    ModelFactory,
    TableConfig,
    TrainedModel,
    Variant,
    fit_config,
    seed_loss,
    train_base_model,
    train_variant,
    train_without_model,
)
from emma_lab.robustness.suite import EARLY_FUSION, NOISE_AUGMENTATION, BenchSpec


@dataclass(frozen=True)
class MethodInfo:
    """What the report says about a method."""

    name: str
    role: str
    summary: str


def method_infos(bench: BenchSpec) -> list[MethodInfo]:
    """Every method of the bench in table order, with its role (baseline, emma, peer)."""
    spec_network = bench.emma_spec().network
    network = spec_network.kind if spec_network is not None else "?"
    infos = [
        MethodInfo(EARLY_FUSION, "baseline", f"`{network}` on clean data"),
        MethodInfo(
            NOISE_AUGMENTATION, "baseline", "early fusion's weights fine-tuned on the corrupted mix"
        ),
    ]
    for name, patch in bench.emma.items():
        change = json.dumps(patch) if patch else "the spec's attention"
        infos.append(
            MethodInfo(
                name,
                "emma",
                f"early fusion's weights plus a fresh EMMA (`{change}`), on the corrupted mix",
            )
        )
    for name, network_section in bench.peers.items():
        kind = network_section.get("kind", "?")
        infos.append(MethodInfo(name, "peer", f"`{kind}` from scratch on the corrupted mix"))
    return infos


def train_on_mix(
    factory: ModelFactory, data: SeedData, config: TableConfig, epochs: int, name: str
) -> TrainedModel:
    """A fresh bare model trained on the corrupted mix; threshold from its validation part."""
    torch.manual_seed(data.seed)
    model = factory(None, data.seed)
    settings = replace(fit_config(config, data.seed, epochs), desc=name)
    result = fit(model, data.mixed["train"], data.mixed["val"], seed_loss(data, config), settings)
    threshold = choose_threshold(model, data.mixed["val"])
    return TrainedModel(model, result.best_epoch, threshold, result.best_val_loss)


class MethodTrainer:
    """Trains every method of a bench on one seed's splits and corrupted mixes."""

    def __init__(self, bench: BenchSpec, config: TableConfig) -> None:
        self.bench, self.config = bench, config
        self.factory = model_factory(bench.emma_spec())
        self.peers = {name: model_factory(bench.peer_spec(name)) for name in bench.peers}
        self.peer_epochs = bench.protocol.peer_epochs or config.base_epochs + config.epochs

    def train_seed(self, data: SeedData) -> dict[str, TrainedModel]:
        """Every method, by name, in table order."""
        config, loss = self.config, seed_loss(data, self.config)
        base = train_base_model(self.factory, data, config, loss)
        trained = {
            EARLY_FUSION: base,
            NOISE_AUGMENTATION: train_without_model(base.model, data, config, loss),
        }
        fitted: EmmaModel | None = None
        for name, patch in self.bench.emma.items():
            trained[name] = train_variant(
                self.factory,
                data,
                config,
                Variant(name, patch),
                base.model,
                loss,
                estimators_from=fitted,
            )
            fitted = fitted or trained[name].model
        for name, factory in self.peers.items():
            trained[name] = train_on_mix(factory, data, config, self.peer_epochs, name)
        return trained
