"""`EnergyAttention`: steps 1-5 of EMMA (figure 5.1) composed from attention-stage plugins.

The module owns the frozen estimators (step 1) and one stage per slot. It knows the
stages only by their forward signatures (documented in each slot's module and in
``docs/attention.md``), never by their classes, so any registered kind fits.

Missing modes (new; the thesis only zero-fills): a per-sample boolean mask ``missing``
``[N, M]`` marks them. A missing mode's input is replaced by zeros before anything reads
it and its estimator output is discarded with ``torch.where`` (the tensor may hold NaN);
it is left out of the other modes' shared energies and of the Boltzmann normalisation,
gets ``alpha = beta = 0``, and its weighted output is exactly zero. A sample with every
mode missing gets ``alpha = beta = 0`` everywhere.

Invalid values: a present mode of a sample that holds a NaN or infinite value, or whose
squared norm overflows (``|x|`` beyond about 1.8e19 in float32, such as ``1e30``), is
*invalid*: it is treated as missing for that sample and flagged in the report's
``invalid`` (and ``missing``), so one bad value cannot turn the sample's output, or any
other sample, into NaN. An estimator that returns a non-finite score for a valid present
mode is broken (a diverged fit, damaged weights): that is an `EstimatorError`.

Constraints: stages hold them by projection in ``constrain_()``, called after each
optimizer step, and read their parameters clamped in ``forward`` (see
`emma_plugins.attention.constraints` for why).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn

from emma_plugins.attention.report import AttentionReport, empty_mask
from emma_plugins.core.contracts import HasScoreDistribution, ScoreDistribution
from emma_plugins.core.errors import EstimatorError, NotFittedError
from emma_plugins.estimators import EnergyEstimator

STAGE_SLOTS = ("correction", "modal_energy", "importance", "gate", "endogenous", "cross_modal")


class EnergyAttention(nn.Module):
    """Energy-based multi-modal attention in front of a multi-modal network.

    ``forward(modes, missing)`` returns the weighted modes ``x'_i`` for the network and an
    `AttentionReport`. The estimators are frozen (no gradient, eval mode) since stage 2
    trains only the attention stages and the network; the potential is a measurement,
    computed without autograd.
    """

    def __init__(
        self,
        estimators: Sequence[EnergyEstimator],
        correction: nn.Module,
        modal_energy: nn.Module,
        importance: nn.Module,
        gate: nn.Module,
        endogenous: nn.Module | None = None,
        cross_modal: nn.Module | None = None,
        energy_input: str = "potential",
    ) -> None:
        super().__init__()
        if len(estimators) < 2:
            raise ValueError(
                f"EnergyAttention needs at least 2 modes (one estimator each), got "
                f"{len(estimators)}."
            )
        for i, estimator in enumerate(estimators):
            names = getattr(estimator, "score_names", ())
            if energy_input not in names:
                raise ValueError(
                    f"energy_input {energy_input!r} is not a score of estimator {i} "
                    f"({type(estimator).__name__}); choose one of {', '.join(names)}."
                )
        self.n_modes = len(estimators)
        self.energy_input = energy_input
        self.mode_names: tuple[str, ...] = tuple(f"mode{i}" for i in range(self.n_modes))
        self.estimator_kinds: tuple[str | None, ...] = (None,) * self.n_modes
        self.estimators = nn.ModuleList(estimators)
        self.estimators.requires_grad_(False)
        self.estimators.eval()
        self.correction = correction
        self.modal_energy = modal_energy
        self.importance = importance
        self.gate = gate
        self.endogenous = endogenous
        self.cross_modal = cross_modal
        self._calibrated = False
        with contextlib.suppress(NotFittedError):
            self.calibrate_()  # else the estimators are fitted later; calibrated on first use

    # -- housekeeping -----------------------------------------------------------------------
    def stages(self) -> Iterator[tuple[str, nn.Module]]:
        """``(slot, stage)`` for every slot in use."""
        for slot in STAGE_SLOTS:
            stage = getattr(self, slot)
            if stage is not None:
                yield slot, stage

    @torch.no_grad()
    def calibrate_(self) -> None:
        """Hand the estimators' fitted training statistics of the energy input to the
        correction stage.

        A stage with ``calibrate_distribution`` (`CalibratedByDistribution`) gets the whole
        training distribution (a `ScoreDistribution`: minima, quantiles and standard
        deviations of every estimator); otherwise a stage with ``calibrate``
        (`Calibrated`) gets the minima ``[M]``. Done automatically at construction or first
        use; call it again after refitting or recalibrating the estimators.
        """
        estimators = self._estimators()
        name = self.energy_input
        minima = torch.stack([est.score_min(name) for est in estimators])
        by_distribution: Callable[[ScoreDistribution], None] | None = getattr(
            self.correction, "calibrate_distribution", None
        )
        calibrate: Callable[[Tensor], None] | None = getattr(self.correction, "calibrate", None)
        if by_distribution is not None:
            by_distribution(self._distribution(estimators, minima))
        elif calibrate is not None:
            calibrate(minima)
        self._calibrated = True

    def _distribution(
        self, estimators: Sequence[EnergyEstimator], minima: Tensor
    ) -> ScoreDistribution:
        """The training distribution of the energy input, stacked over the estimators."""
        name = self.energy_input
        for i, est in enumerate(estimators):
            if not isinstance(est, HasScoreDistribution):
                raise TypeError(
                    f"The correction {type(self.correction).__name__} needs the training "
                    f"distribution of the {name!r} score, but the estimator of mode "
                    f"{self.mode_names[i]!r} ({type(est).__name__}) records only its minimum: "
                    "implement score_quantiles and score_std (subclass EnergyEstimator)."
                )
        return ScoreDistribution(
            minimum=minima,
            quantiles=torch.stack([est.score_quantiles(name) for est in estimators]),
            std=torch.stack([est.score_std(name) for est in estimators]),
        )

    def _estimators(self) -> list[EnergyEstimator]:
        return cast(list[EnergyEstimator], list(self.estimators))

    def name_modes(
        self, names: Sequence[str], estimator_kinds: Sequence[str | None] | None = None
    ) -> None:
        """Name the modes (and their estimators' kinds) for error messages."""
        if len(names) != self.n_modes:
            raise ValueError(f"name_modes: expected {self.n_modes} names, got {len(names)}.")
        self.mode_names = tuple(names)
        kinds = (None,) * self.n_modes if estimator_kinds is None else tuple(estimator_kinds)
        self.estimator_kinds = kinds

    def train(self, mode: bool = True) -> EnergyAttention:
        """Switch the stages' mode; the frozen estimators always stay in eval mode."""
        super().train(mode)
        self.estimators.eval()
        return self

    def constrain_(self) -> None:
        """Project every constrained stage parameter back into its box (after each step)."""
        for _, stage in self.stages():
            constrain = getattr(stage, "constrain_", None)
            if constrain is not None:
                constrain()

    # -- steps 1-4 --------------------------------------------------------------------------
    def _check(
        self, modes: Sequence[Tensor], missing: Tensor | None, *, detect: bool = True
    ) -> tuple[list[Tensor], Tensor, Tensor]:
        """The modes with missing and invalid ones zeroed, the mask of both and the invalid
        mask (``detect=False``: only the given ``missing``, nothing is flagged invalid)."""
        modes = list(modes)
        if len(modes) != self.n_modes:
            raise ValueError(f"Expected {self.n_modes} modes, got {len(modes)}.")
        n = modes[0].shape[0]
        for i, x in enumerate(modes):
            if x.dim() < 2 or x.shape[0] != n:
                raise ValueError(
                    f"Mode {i} has shape {tuple(x.shape)}; every mode needs the batch first "
                    f"and {n} samples (like mode 0)."
                )
        given = None if missing is None else checked_missing(modes, missing)
        invalid = invalid_values(modes) if detect else empty_mask(n, len(modes), modes[0].device)
        if given is not None:
            invalid = invalid & ~given  # a mode given as missing is not also invalid
        mask = invalid if given is None else given | invalid
        return zero_missing(modes, mask), mask, invalid

    def _scores(self, modes: Sequence[Tensor]) -> Tensor:
        name = self.energy_input
        with torch.no_grad():
            columns = [
                est.potential(x) if name == "potential" else est.scores(x)[name]
                for est, x in zip(self._estimators(), modes, strict=True)
            ]
        n = modes[0].shape[0]
        for i, column in enumerate(columns):
            if column.shape != (n,):
                raise ValueError(
                    f"Estimator {i} returned {name!r} of shape {tuple(column.shape)}; "
                    f"expected ({n},), one value per sample."
                )
        return torch.stack(columns, dim=1).to(modes[0].dtype)

    def _check_scores(self, scores: Tensor, present: Tensor) -> None:
        """An `EstimatorError` when a present, valid mode got a non-finite score (one
        synchronisation per forward; the message is built only on failure).

        Skipped while ``torch.export`` (and the ONNX exporter built on it) traces the
        module: a graph cannot raise, and branching on the scores' values is data-dependent
        control flow that export refuses; skipped under ``torch.vmap`` too (stacked
        training, where a non-finite score shows as the member's non-finite loss). Eager
        calls always check."""
        if _exporting(scores):
            return
        bad = ~torch.isfinite(scores) & present
        if not bool(bad.any()):
            return
        i = int(bad.any(dim=0).nonzero()[0])
        count, valid = int(bad[:, i].sum()), int(present[:, i].sum())
        value = float(scores[:, i][bad[:, i]][0])
        kind = self.estimator_kinds[i]
        estimator = self._estimators()[i]
        label = estimator.label() if hasattr(estimator, "label") else type(estimator).__name__
        named = f"estimator {kind!r} ({label})" if kind else f"estimator {label}"
        raise EstimatorError(
            f"The {named} of mode {self.mode_names[i]!r} returned a non-finite "
            f"{self.energy_input} ({value}) for {count} of {valid} present samples whose "
            "values are finite. Its weights are not usable (a diverged fit or damaged "
            "weights): refit it on clean, finite data (EmmaModel.fit_estimators) or check "
            "the estimator's parameters."
        )

    def _evaluate(self, modes: list[Tensor], missing: Tensor, invalid: Tensor) -> AttentionReport:
        """Steps 1-4 on checked modes (missing and invalid ones zeroed, both in ``missing``).

        Always in at least float32, under mixed precision too: potentials are squared norms
        and the Boltzmann normalisation exponentiates them, which half precision overflows
        or rounds flat."""
        with full_precision(modes[0].device):
            return self._energies([_at_least_float32(x) for x in modes], missing, invalid)

    def _energies(self, modes: list[Tensor], missing: Tensor, invalid: Tensor) -> AttentionReport:
        if not self._calibrated:
            self.calibrate_()
        keep = _masker(~missing)
        present = ~missing
        scores = self._scores(modes)
        self._check_scores(scores, present)
        raw = keep(scores, 0.0)
        potential = keep(self.correction(raw), math.e)
        self_energy, modal_energy = self.modal_energy(potential, present)
        log_importance = keep(self.importance(modal_energy, present), 0.0)
        importance = keep(log_importance.exp(), 0.0)
        attention = keep(self.gate(importance), 0.0)
        modal_energy = keep(modal_energy, 0.0)
        return AttentionReport(
            raw_potential=raw,
            potential=keep(potential, 0.0),
            self_energy=keep(self_energy, 0.0),
            modal_energy=modal_energy,
            log_importance=log_importance,
            importance=importance,
            attention=attention,
            missing=missing,
            invalid=invalid,
            total_energy=modal_energy.sum(dim=1),
        )

    def evaluate(self, modes: Sequence[Tensor], missing: Tensor | None = None) -> AttentionReport:
        """Steps 1-4: potentials, modal energies, importance and attention of each mode."""
        checked, mask, invalid = self._check(modes, missing)
        return self._evaluate(checked, mask, invalid)

    # -- step 5 (+ chapter 7) ---------------------------------------------------------------
    def _weigh(
        self, modes: list[Tensor], report: AttentionReport, masked: bool = True
    ) -> list[Tensor]:
        beta = report.attention
        masks = self.endogenous(modes) if self.endogenous is not None else None
        weighted = []
        for i, x in enumerate(modes):
            if masks is not None:
                x = masks[i] * x
            weighted.append(_per_sample(beta[:, i], x) * x)
        if self.cross_modal is not None:
            present = report.present
            weighted = self.cross_modal(weighted, present)
            if masked:
                weighted = [
                    torch.where(_per_sample(present[:, i], y), y, 0.0)
                    for i, y in enumerate(weighted)
                ]
        return weighted

    def apply(self, modes: Any, report: AttentionReport | None = None) -> Any:
        """Step 5: ``x'_i = beta_i * m_i * x_i``, then the cross-modal stage if any.

        Called with a single function, this is ``nn.Module.apply(fn)`` (which parents call
        recursively, e.g. to initialise weights).
        """
        if report is None and callable(modes):
            return super().apply(modes)
        if report is None:
            raise TypeError("apply(modes, report): pass the report returned by evaluate().")
        checked, _, _ = self._check(modes, report.missing, detect=False)
        return self._weigh(checked, report, masked=True)

    def forward(
        self, modes: Sequence[Tensor], missing: Tensor | None = None
    ) -> tuple[list[Tensor], AttentionReport]:
        checked, mask, invalid = self._check(modes, missing)
        report = self._evaluate(checked, mask, invalid)
        return self._weigh(checked, report, masked=True), report

    # -- summaries --------------------------------------------------------------------------
    def capacity(self) -> Tensor:
        """The gate's capacity (5.9): the integral of its ``tanh`` curve over ``[0, 1]``."""
        return self._gate_call("capacity")

    def effective_capacity(self) -> Tensor:
        """The integral of the gate actually applied, ``max(0, tanh(.))``, over ``[0, 1]``."""
        return self._gate_call("effective_capacity")

    def _gate_call(self, name: str) -> Tensor:
        method = getattr(self.gate, name, None)
        if method is None:
            raise AttributeError(
                f"Gate {type(self.gate).__name__} has no {name}(); gate plugins must "
                f"implement capacity(), effective_capacity() and capacity_penalty()."
            )
        result: Tensor = method()
        return result

    def stage_parameters(self) -> dict[str, Any]:
        """Every stage's parameters as plain numbers and lists, plus both capacities."""
        summary: dict[str, Any] = {"energy_input": self.energy_input}
        for slot, stage in self.stages():
            describe = getattr(stage, "describe", None)
            summary[slot] = (
                describe()
                if describe is not None
                else {"n_parameters": sum(p.numel() for p in stage.parameters())}
            )
        summary["capacity"] = float(self.capacity().detach())
        summary["effective_capacity"] = float(self.effective_capacity().detach())
        return summary


#: Device types whose autocast can be switched off (other devices, like meta, have none).
_AUTOCAST_DEVICES = frozenset({"cpu", "cuda", "mps", "xpu"})


def full_precision(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """A block where autocast is off on ``device`` (nothing to switch on other devices)."""
    if device.type in _AUTOCAST_DEVICES:
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


def _at_least_float32(x: Tensor) -> Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _exporting(tensor: Tensor | None = None) -> bool:
    """Whether ``torch.export`` or the TorchScript tracer is tracing this call, or ``tensor``
    is batched by ``torch.vmap`` (stacked training of K models: one value per member, so
    no Python branch on it)."""
    is_exporting = getattr(torch.compiler, "is_exporting", None)  # absent in older torch
    if bool(is_exporting is not None and is_exporting()) or torch.jit.is_tracing():
        return True
    return tensor is not None and torch._C._functorch.is_batchedtensor(tensor)


def _per_sample(values: Tensor, like: Tensor) -> Tensor:
    """``values [N]`` shaped to broadcast against ``like [N, ...]``."""
    return values.reshape(values.shape[0], *([1] * (like.dim() - 1)))


def checked_missing(modes: Sequence[Tensor], missing: Tensor) -> Tensor:
    """``missing`` as a bool ``[N, M]`` tensor on the modes' device, or a clear error."""
    n = modes[0].shape[0]
    if tuple(missing.shape) != (n, len(modes)):
        raise ValueError(
            f"missing has shape {tuple(missing.shape)}; expected [N, M] = "
            f"[{n}, {len(modes)}] (True where a mode is missing)."
        )
    return missing.to(device=modes[0].device, dtype=torch.bool)


def zero_missing(modes: Sequence[Tensor], missing: Tensor) -> list[Tensor]:
    """Replace missing modes by zeros (``where``, so NaN or garbage never leaks)."""
    return [torch.where(_per_sample(missing[:, i], x), 0.0, x) for i, x in enumerate(modes)]


def invalid_values(modes: Sequence[Tensor]) -> Tensor:
    """``[N, M]`` bool: True where a sample's mode holds a NaN or infinite value or its
    squared norm overflows (summed in float32 at least), as ``1e30`` does in float32.

    One reduction per mode, no loop over samples; integer and bool modes are always valid.
    """
    columns = []
    for x in modes:
        flat = x.flatten(1)
        if flat.is_floating_point():
            wide = flat if flat.element_size() >= 4 else flat.float()
            columns.append(~torch.isfinite(wide.square().sum(dim=1)))
        else:
            columns.append(torch.zeros(x.shape[0], dtype=torch.bool, device=x.device))
    return torch.stack(columns, dim=1)


def _masker(present: Tensor) -> Callable[[Tensor, float], Tensor]:
    """``keep(values, fill)``: ``values`` where a mode is present, ``fill`` elsewhere."""

    def keep(values: Tensor, fill: float) -> Tensor:
        return torch.where(present, values, fill)

    return keep
