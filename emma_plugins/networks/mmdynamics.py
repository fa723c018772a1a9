"""``mmdynamics``: feature gates and per-mode confidence that scale features before fusion.

After multimodal dynamics (Han et al., CVPR 2022, "Multimodal Dynamics: Dynamical Fusion
for Trustworthy Multimodal Classification", official code
TencentAILabHealthcare/mmdynamics):

* feature level: a sigmoid gate per input feature, computed from the mode itself,
  ``x~_m = x_m * sigmoid(W_m x_m + b_m)``, kept sparse by an L1 penalty;
* mode level: an encoder gives ``h_m``; a per-mode classifier predicts from ``h_m``, and a
  confidence regressor ``c_m = g_m(h_m)`` learns the classifier's true-class probability
  (TCP) by mean squared error;
* fusion: a shared classifier on the concatenation of ``c_m h_m``.

**The default, ``form="variant"``, is a modified variant, not the official model.** It
departs from the official code in:

1. confidence ``c_m = sigmoid(g_m(h_m))``, bounded in (0, 1); the official confidence is
   the raw linear output ``g_m(h_m)``, unbounded;
2. the TCP target is detached, so the regression trains the confidence (and the encoder
   under it), not the mode classifier; the official code does not detach it;
3. sparsity ``1e-3`` x the gates' L1 norm summed over features (mean over samples, sum
   over modes); the official weight is 1.0 on the gates' *mean* over samples and
   features, per mode, i.e. ``1000 / d_m`` times stronger for a mode of ``d_m`` features;
4. ``head``: hidden layers of the fusion classifier are allowed (default none); the
   official configurations use a single linear classifier (its hidden-layer branch only
   builds for particular widths). The variant's head emits the spec's logits directly
   (one for a binary spec) instead of two class logits;
5. PyTorch's default initialisation instead of the official Xavier-normal weights and
   zero biases.

``form="official"`` builds the official model: raw linear confidence, TCP target not
detached, sparsity 1.0 on the gates' mean per mode, Xavier-normal initialisation, a
fusion classifier with ``K`` class logits (converted to the spec's layout). It keeps two
framework choices: the ``encoder`` widths (the official encoder is one ``Linear + ReLU +
Dropout``, i.e. one width) and the trainer's ``base_loss`` (class-weighted) where the
official code uses plain cross-entropy. Both forms' loss is the fused task loss plus, per
mode, its own task loss, ``confidence_weight`` x the confidence regression and
``sparsity`` x the gate penalty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from emma_plugins.networks.class_logits import class_count, to_output_logits
from emma_plugins.networks.interfaces import LastForward, LossFn
from emma_plugins.networks.layers import LayerParams, Widths, flat_sizes, mlp_stack
from emma_plugins.networks.per_mode import per_mode_encoders, run_per_mode

Form = Literal["variant", "official"]

#: The sparsity weight each form uses when the spec gives none.
DEFAULT_SPARSITY: dict[str, float] = {"variant": 1e-3, "official": 1.0}


class MMDynamicsParams(LayerParams):
    """Parameters of the ``mmdynamics`` network."""

    form: Form = Field(
        "variant",
        description="'variant' (default): our modified model (sigmoid confidence, detached "
        "TCP target, weak sparsity); 'official': the official code's model.",
    )
    encoder: Widths = Field(
        default_factory=lambda: [16],
        min_length=1,
        description="Hidden widths of each mode's encoder; the last is the feature width "
        "(the official encoder has one).",
    )
    head: Widths = Field(
        default_factory=list, description="Hidden widths of the shared fusion classifier."
    )
    sparsity: float | None = Field(
        None,
        ge=0,
        description="Weight of the gates' L1 penalty; default 1e-3 on the sum over features "
        "(variant) or 1.0 on the mean over features (official).",
    )
    confidence_weight: float = Field(
        1.0, ge=0, description="Weight of the true-class-probability regression."
    )


def _xavier(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_normal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class MMDynamics(nn.Module):
    """Gated features, confidence-scaled mode encodings, a shared classifier."""

    def __init__(
        self,
        mode_shapes: Sequence[Sequence[int]],
        out_features: int,
        encoder: Sequence[int] = (16,),
        head: Sequence[int] = (),
        sparsity: float | None = None,
        confidence_weight: float = 1.0,
        form: Form = "variant",
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if form not in DEFAULT_SPARSITY:
            raise ValueError(f"mmdynamics: form must be 'variant' or 'official', got {form!r}.")
        self.form = form
        self.out_features = out_features
        self.sparsity = DEFAULT_SPARSITY[form] if sparsity is None else sparsity
        self.confidence_weight = confidence_weight
        self.gates = nn.ModuleList(nn.Linear(size, size) for size in flat_sizes(mode_shapes))
        self.encoders = per_mode_encoders("mmdynamics", mode_shapes, encoder, activation, dropout)
        width, n_modes, k = encoder[-1], len(mode_shapes), class_count(out_features)
        self.classifiers = nn.ModuleList(nn.Linear(width, k) for _ in range(n_modes))
        self.confidences = nn.ModuleList(nn.Linear(width, 1) for _ in range(n_modes))
        head_out = k if form == "official" else out_features
        self.head = mlp_stack(n_modes * width, head, head_out, activation, dropout)
        if form == "official":
            self.apply(_xavier)
        self._last = LastForward("mmdynamics")

    def forward(self, modes: Sequence[Tensor]) -> Tensor:
        flat = [x.flatten(1) for x in modes]
        gates = [torch.sigmoid(gate(x)) for gate, x in zip(self.gates, flat, strict=True)]
        features = run_per_mode(self.encoders, [x * g for x, g in zip(flat, gates, strict=True)])
        by_mode = list(features.unbind(1))
        mode_logits = run_per_mode(self.classifiers, by_mode)  # [N, M, K]
        confidence = run_per_mode(self.confidences, by_mode).squeeze(-1)
        if self.form == "official":
            gate_l1 = torch.stack([g.mean() for g in gates]).sum()
        else:
            confidence = torch.sigmoid(confidence)
            gate_l1 = torch.stack([g.sum(dim=1) for g in gates], dim=1).sum(dim=1).mean()
        self._last.store(mode_logits=mode_logits, confidence=confidence, gate_l1=gate_l1)
        out: Tensor = self.head((confidence.unsqueeze(-1) * features).flatten(1))
        return to_output_logits(out, self.out_features) if self.form == "official" else out

    def loss_terms(self, output: Tensor, y: Tensor, base_loss: LossFn) -> dict[str, Tensor]:
        """The unweighted terms of the last forward's loss: ``fused``, ``modes`` (summed
        task losses), ``confidence`` (TCP regression summed over modes) and ``sparsity``."""
        mode_logits, confidence = self._last.get("mode_logits"), self._last.get("confidence")
        modes = sum(
            (
                base_loss(to_output_logits(logits, self.out_features), y)
                for logits in mode_logits.unbind(1)
            ),
            start=output.new_zeros(()),
        )
        index_y = y.long().view(-1, 1, 1).expand(-1, mode_logits.shape[1], 1)
        tcp = torch.softmax(mode_logits, dim=-1).gather(-1, index_y).squeeze(-1)
        if self.form == "variant":
            tcp = tcp.detach()
        regression = F.mse_loss(confidence, tcp, reduction="sum") / len(y)
        return {
            "fused": base_loss(output, y),
            "modes": modes,
            "confidence": regression,
            "sparsity": self._last.get("gate_l1"),
        }

    def training_loss(
        self, output: Tensor, y: Tensor, *, epoch: int, base_loss: LossFn, index: Tensor
    ) -> Tensor:
        """Fused + per-mode task losses, TCP regression, and the gates' L1 penalty."""
        terms = self.loss_terms(output, y, base_loss)
        return (
            terms["fused"]
            + terms["modes"]
            + self.confidence_weight * terms["confidence"]
            + self.sparsity * terms["sparsity"]
        )

    def quality_scores(self) -> Tensor:
        """``[N, M]`` predicted true-class probability of each mode (official form:
        unbounded, as the official regression output is)."""
        return self._last.get("confidence").detach()
