"""`StackedAdam`: torch's Adam step over stacked parameters, a learning rate per member."""

from __future__ import annotations

import torch
from torch import Tensor

# -- what stacks ------------------------------------------------------------------------------


#: torch's Adam defaults: betas and eps (no weight decay).
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


class StackedAdam:
    """K independent Adams over parameters with a leading member dimension.

    torch's single-tensor Adam (``torch.optim.Adam``, no weight decay, no amsgrad) step for
    step, with a ``[K]`` tensor of learning rates: ``lr_k / (1 - beta1^t)`` is formed in
    float64 and rounded to the parameters' dtype, as torch rounds its Python-float step
    size. Every member in the stack has taken the same number of steps ``t`` (a member
    leaves the stack when it stops), so the bias corrections are shared.
    """

    def __init__(self, params: dict[str, Tensor], lr: Tensor) -> None:
        self.params = params
        self.lr = lr.to(dtype=torch.float64)
        self.exp_avg = {n: torch.zeros_like(p) for n, p in params.items()}
        self.exp_avg_sq = {n: torch.zeros_like(p) for n, p in params.items()}
        self.steps = 0

    @torch.no_grad()
    def step(self, grads: dict[str, Tensor]) -> None:
        self.steps += 1
        bias_correction1 = 1 - _BETA1**self.steps
        bias_correction2_sqrt = (1 - _BETA2**self.steps) ** 0.5
        neg_step = -(self.lr / bias_correction1)
        for name, param in self.params.items():
            grad = grads[name]
            exp_avg, exp_avg_sq = self.exp_avg[name], self.exp_avg_sq[name]
            exp_avg.lerp_(grad, 1 - _BETA1)
            exp_avg_sq.mul_(_BETA2).addcmul_(grad, grad, value=1 - _BETA2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(_EPS)
            scale = neg_step.to(param.dtype).reshape(-1, *([1] * (param.dim() - 1)))
            # torch: param.addcdiv_(exp_avg, denom, value=-step_size) = param + (v * t1) / t2
            param.addcdiv_(scale * exp_avg, denom)

    def keep(self, rows: Tensor) -> None:
        """Keep only the members at ``rows`` (the others stopped)."""
        self.lr = self.lr[rows.to(self.lr.device)]
        for state in (self.params, self.exp_avg, self.exp_avg_sq):
            for name, value in state.items():
                kept = value.detach()[rows.to(value.device)]
                state[name] = kept.requires_grad_(value.requires_grad)


# -- networks ---------------------------------------------------------------------------------


__all__ = ["StackedAdam"]
