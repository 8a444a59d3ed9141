"""Quality scores: a normal fitted to scores the instrument clips to [0, 40], background apart.

The simulator draws each molecule's ``qv`` from a normal and clips it to [0, 40]
(``stages/instrument.py:draw_qv``): correctly decoded molecules from N(``qv_mean``, ``qv_sd``),
background ones (ambient, control, mis-called) from N(``qv_background_mean``,
``qv_background_sd``). Scores at the bounds are censored, not observed, so the normal is fitted
by censored maximum likelihood, which gives the unclipped mean and s.d. (at qv_mean 30, s.d. 5,
2 % of scores sit at 40 and the clipped mean is 0.1 low). The background normal is fitted to the
control molecules; the genes' to gene molecules in cells, as a mixture with the background normal
held fixed, since ambient and mis-called molecules in cells score as background (the mixture
weight is ``qv_background_fraction_in_cells``). Standard errors from the inverse observed
information (a central-difference Hessian of the log-likelihood).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, stats

from STpuppeteer.stages.instrument import QV_MAX

if TYPE_CHECKING:
    import pandas as pd

    from STpuppeteer.fit.estimates import Estimates

__all__ = ["QvFit", "estimate_qv", "fit_qv"]

_MAX_QV_VALUES = 200_000


def estimate_qv(mol: pd.DataFrame, *, inside: np.ndarray, control: np.ndarray, out: Estimates) -> None:
    """Add the quality-score fields to ``out``: background from the controls, genes from ``inside`` molecules."""
    if "qv" not in mol.columns or not mol["qv"].notna().any():
        for key in ("qv_mean", "qv_sd", "qv_background_mean", "qv_background_sd"):
            out.missing[f"instrument.{key}"] = "the molecules have no qv"
        return
    qv = mol["qv"].to_numpy(float)
    background = None
    if control.sum() >= 2:
        background = fit_qv(qv[control & np.isfinite(qv)])
        out.fields.update({"instrument.qv_background_mean": background.mean,
                           "instrument.qv_background_sd": background.sd})
        out.measured.update({"qv_background_mean_se": background.mean_se, "qv_background_sd_se": background.sd_se})
    else:
        for key in ("qv_background_mean", "qv_background_sd"):
            out.missing[f"instrument.{key}"] = "fewer than two control molecules"
        out.notes.append("qv_mean: no controls to tell background scores in cells apart; fitted as one normal")
    genes = fit_qv(qv[inside & np.isfinite(qv)], background=background)
    out.fields.update({"instrument.qv_mean": genes.mean, "instrument.qv_sd": genes.sd})
    out.measured.update({"qv_mean_se": genes.mean_se, "qv_sd_se": genes.sd_se,
                         "qv_background_fraction_in_cells": genes.background_fraction})


@dataclass(frozen=True)
class QvFit:
    """A normal fitted to scores clipped to [0, 40]: unclipped mean and s.d. with standard errors."""

    mean: float
    sd: float
    mean_se: float
    sd_se: float
    background_fraction: float = 0.0


def fit_qv(values: np.ndarray, *, background: QvFit | None = None, max_values: int = _MAX_QV_VALUES) -> QvFit:
    """Censored maximum-likelihood normal of scores clipped to [0, 40], optionally mixed with a known background.

    Parameters
    ----------
    values
        The scores; those at 0 or 40 count as censored there.
    background
        A second normal of known mean and s.d. (the background scores); its weight is fitted.
    max_values
        Scores used at most (every k-th, deterministic).

    Returns
    -------
    The fit, standard errors from the inverse observed information.

    Examples
    --------
    >>> x = np.clip(np.random.default_rng(0).normal(35, 5, 20000), 0, 40)
    >>> fit = fit_qv(x)
    >>> round(fit.mean, 1), round(fit.sd, 1), round(float(x.mean()), 1)
    (35.0, 5.0, 34.6)
    """
    values = np.asarray(values, dtype=float)
    values = values[:: max(1, math.ceil(len(values) / max_values))]
    low, high = values <= 1e-6, values >= QV_MAX - 1e-6
    mid = values[~low & ~high]
    n_low, n_high = float(low.sum()), float(high.sum())

    def component(mu: float, sigma: float) -> tuple[np.ndarray, float, float]:
        return (stats.norm.logpdf(mid, mu, sigma), float(stats.norm.logcdf(0.0, mu, sigma)),
                float(stats.norm.logsf(QV_MAX, mu, sigma)))

    bg = component(background.mean, max(background.sd, 1e-6)) if background is not None else None

    def nll(theta: np.ndarray) -> float:
        fg = component(theta[0], math.exp(theta[1]))
        if bg is None:
            return -(fg[0].sum() + n_low * fg[1] + n_high * fg[2])
        lw, lv = -np.logaddexp(0.0, -theta[2]), -np.logaddexp(0.0, theta[2])  # log π, log(1 − π)
        parts = [np.logaddexp(lv + f, lw + b) for f, b in zip(fg, bg, strict=True)]
        return -(parts[0].sum() + n_low * parts[1] + n_high * parts[2])

    start = [float(mid.mean()) if len(mid) else 20.0, math.log(max(float(mid.std()) if len(mid) > 1 else 1.0, 1e-3))]
    if bg is not None:
        start.append(-4.0)
    theta = optimize.minimize(nll, np.array(start), method="Nelder-Mead",
                              options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 4000}).x
    cov = np.linalg.pinv(_hessian(nll, theta))
    sigma = math.exp(theta[1])
    weight = float(1 / (1 + math.exp(-theta[2]))) if bg is not None else 0.0
    return QvFit(float(theta[0]), sigma, math.sqrt(max(cov[0, 0], 0)), sigma * math.sqrt(max(cov[1, 1], 0)), weight)


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``x``."""
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            e_i, e_j = np.eye(n)[i] * step, np.eye(n)[j] * step
            h[i, j] = h[j, i] = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)) / (
                4 * step * step)
    return h
