"""Robustness as area under a metric-versus-noise curve, and effective robustness.

With noise levels ``eps_0 < ... < eps_n`` and the metric ``f_i`` at each level:

* ``area_under_curve``: the trapezoid area divided by the noise range ``eps_n - eps_0``,
  i.e. the mean metric over the range (on the metric's own scale);
* ``relative_robustness``: the trapezoid area itself, un-normalised, as MultiBench (Liang
  et al., 2021) defines relative robustness (its noise levels span 0 to 1, so there the
  two coincide);
* ``effective_robustness``: MultiBench's effective robustness against late fusion, the
  method's relative robustness minus that of the late-fusion curve shifted to the
  method's clean score, ``g_i + (f_0 - g_0)``:
  ``ER = sum_i (eps_{i+1} - eps_i) / 2 * (d_i + d_{i+1})`` with
  ``d_i = (f_i - f_0) - (g_i - g_0)``, un-normalised. It is positive when the method
  loses less than late fusion as noise grows, whatever their clean scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emma_lab.metrics._arrays import as_array

Curve = Sequence[float] | np.ndarray


def _checked(levels: Curve, values: Curve, name: str = "values") -> tuple[np.ndarray, np.ndarray]:
    eps, f = as_array(levels, "levels"), as_array(values, name)
    if eps.ndim != 1 or f.shape != eps.shape:
        raise ValueError(
            f"levels and {name} must be 1-D and of equal length, got shapes "
            f"{eps.shape} and {f.shape}."
        )
    if len(eps) < 2 or np.any(np.diff(eps) <= 0):
        raise ValueError(
            "levels must hold at least two strictly increasing noise levels, got "
            f"{eps.tolist()}; sort the curve by noise level."
        )
    return eps, f


def relative_robustness(levels: Curve, values: Curve) -> float:
    """Trapezoid area under the metric-versus-noise curve (not normalised)."""
    eps, f = _checked(levels, values)
    return float(np.sum(np.diff(eps) * (f[1:] + f[:-1]) / 2.0))


def area_under_curve(levels: Curve, values: Curve) -> float:
    """Trapezoid area under the curve divided by the noise range: the mean metric."""
    eps, _ = _checked(levels, values)
    return relative_robustness(levels, values) / float(eps[-1] - eps[0])


def effective_robustness(levels: Curve, method: Curve, late_fusion: Curve) -> float:
    """Relative robustness of ``method`` minus that of ``late_fusion`` shifted to its
    clean (first-level) score; see the module docstring for the formula."""
    eps, f = _checked(levels, method, "method")
    _, g = _checked(levels, late_fusion, "late_fusion")
    gap = (f - f[0]) - (g - g[0])
    return relative_robustness(eps, gap)
