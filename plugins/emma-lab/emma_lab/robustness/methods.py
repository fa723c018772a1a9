"""The methods of the benchmark and how each is trained on one seed.

* ``early_fusion``: the spec's network alone on clean data (experiment 1's ``base``);
* ``noise_augmentation``: its weights fine-tuned on the corrupted mix (``without``);
* EMMA's variants: the base weights plus a fresh EMMA, trained on the corrupted mix
  (``with``; stage 1 is fitted once per seed and shared); a variant with another network
  (per-mode experts) starts from that network trained on clean data like early fusion;
* the peers: built from the spec with their own network and no attention, with their own
  loss where the network defines one. By default (``protocol.peer_start: clean``) they get
  EMMA's start: their network trained on clean data for ``base_epochs``, then on the
  corrupted mix for ``epochs``; with ``scratch``, ``peer_epochs`` on the mix from random
  weights.

Every model stops early on the corrupted validation mix (early fusion: the clean one) and
takes its decision threshold from the same validation data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from emma_lab.experiments.comparison import (
    TrainedModel,
    Variant,
    seed_loss,
    seeded_model,
    train_base_model,
    train_variants,
    train_without_model,
)
from emma_lab.experiments.protocol import SeedData
from emma_lab.robustness.suite import EARLY_FUSION, NOISE_AUGMENTATION, BenchSpec
from emma_lab.spec import bare_spec
from emma_plugins.spec import EmmaSpec
from emma_plugins.training.loop import fit
from emma_plugins.training.loss import ClassificationLoss
from emma_plugins.training.settings import fit_config


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
    for name, overrides in bench.emma.items():
        patch = overrides.model_dump(mode="json", exclude_unset=True)
        change = json.dumps(patch) if patch else "the spec's attention"
        infos.append(
            MethodInfo(
                name,
                "emma",
                f"early fusion's weights plus a fresh EMMA (`{change}`), on the corrupted mix",
            )
        )
    start = (
        "trained on clean data, then on the corrupted mix"
        if bench.protocol.peer_start == "clean"
        else "from scratch on the corrupted mix"
    )
    for name, peer in bench.peers.items():
        infos.append(MethodInfo(name, "peer", f"`{peer.kind or '?'}` {start}"))
    return infos


def train_on_mix(
    spec: EmmaSpec, data: SeedData, loss_spec: EmmaSpec, epochs: int, name: str
) -> TrainedModel:
    """A fresh bare model of ``spec`` trained on the corrupted mix for ``epochs``, with the
    settings and loss of ``loss_spec`` (the bench's spec); threshold from its validation
    part."""
    torch.manual_seed(data.seed)
    model = seeded_model(spec, data.seed, data.device)
    settings = fit_config(loss_spec.resolved_training, seed=data.seed, epochs=epochs, desc=name)
    result = fit(
        model, data.mixed["train"], data.mixed["val"], seed_loss(data, loss_spec), settings
    )
    return TrainedModel.from_fit(model, result, data.mixed["val"], data.threshold_rule)


class MethodTrainer:
    """Trains every method of a bench on one seed's splits and corrupted mixes; each
    method's spec is derived from the bench's spec once. With ``stack`` the EMMA methods of a
    seed train as one stacked model where they can (the same scores)."""

    def __init__(self, bench: BenchSpec, *, stack: bool = True) -> None:
        self.bench, self.stack = bench, stack
        self.spec = bench.emma_spec()
        self.base = bare_spec(self.spec)
        self.variants = [Variant(name, bench.variant_spec(name)) for name in bench.emma]
        self.peers = {name: bench.peer_spec(name) for name in bench.peers}
        training = self.spec.resolved_training
        self.peer_epochs = bench.protocol.peer_epochs or training.base_epochs + training.epochs

    def _variant_groups(self) -> list[tuple[EmmaSpec | None, list[Variant]]]:
        """EMMA variants grouped by the base they start from: ``None`` for early fusion,
        else the bare spec of the variant's own network (one group per network)."""
        groups: dict[str, tuple[EmmaSpec | None, list[Variant]]] = {}
        own = json.dumps(self.spec.network.model_dump(mode="json") if self.spec.network else None)
        for variant in self.variants:
            network = variant.spec.network
            key = json.dumps(network.model_dump(mode="json") if network else None)
            base = None if key == own else bare_spec(variant.spec)
            groups.setdefault(key, (base, []))[1].append(variant)
        return list(groups.values())

    def train_seed(self, data: SeedData) -> dict[str, TrainedModel]:
        """Every method, by name, in table order."""
        spec, loss = self.spec, seed_loss(data, self.spec)
        base = train_base_model(self.base, data, loss)
        trained = {
            EARLY_FUSION: base,
            NOISE_AUGMENTATION: train_without_model(base.model, spec, data, loss),
        }
        estimators = None
        for own_base, variants in self._variant_groups():
            start = base if own_base is None else train_base_model(own_base, data, loss)
            items = train_variants(
                variants, data, start.model, loss, estimators_from=estimators, stack=self.stack
            )
            estimators = estimators or items[0].model
            trained |= {v.name: item for v, item in zip(variants, items, strict=True)}
        for name, peer in self.peers.items():
            trained[name] = self._train_peer(name, peer, data, loss)
        return {name: trained[name] for name in self.bench.methods}

    def _train_peer(
        self, name: str, peer: EmmaSpec, data: SeedData, loss: ClassificationLoss
    ) -> TrainedModel:
        if self.bench.protocol.peer_start == "scratch":
            return train_on_mix(peer, data, self.spec, self.peer_epochs, name)
        start = train_base_model(peer, data, loss)
        return train_without_model(start.model, self.spec, data, loss)
