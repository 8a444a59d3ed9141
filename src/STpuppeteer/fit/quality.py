"""Quality scores: the simulator's mixture, a mass at the cap and a clipped normal, background apart.

The simulator draws each molecule's ``qv`` (``stages/instrument.py:draw_qv``) as the cap, 40,
with some probability (``qv_cap_fraction``; background: ``qv_background_cap_fraction``), and
otherwise from a normal clipped to [0, 40]: correctly decoded molecules from N(``qv_mean``,
``qv_sd``), background ones (ambient, control, mis-called) from N(``qv_background_mean``,
``qv_background_sd``). Scores at the bounds are censored, not observed, so the normal and the
mass at the cap are fitted together by maximum likelihood: a score of 40 is either the cap or a
normal draw above it, and the scores below 40 fix the normal's shape, which tells the two apart
(at qv_mean 30, s.d. 5 and no cap, 2 % of scores sit at 40 and the fitted cap share is ≈ 0). The
background mixture is fitted to the control molecules; the genes' to gene molecules in cells, as
a mixture with the background held fixed, since ambient and mis-called molecules in cells score
as background (the mixture weight is ``qv_background_fraction_in_cells``). The fall of the cap
share with molecule density (``qv_density_scale_per_um2``) is not fitted: the fitted cap share is
the average over the reference's cells; that leaves the pooled scores the same mixture (the normal
is drawn whatever the density), so the mean and s.d. are not biased by it. Standard errors from
the inverse observed information (a central-difference Hessian of the log-likelihood). The
background weight in cells is fitted linearly in [0, ½], so at or near 0 (well under 1 % of
scores on the xenium preset) its uncertainty still widens the mean's error: the two normals
overlap, and the weight and the genes' mean are nearly confounded (mean s.e. 0.15–1 on 600
xenium-preset cells, against 0.03–0.07 with the weight known).
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
#: Start of the background's weight among the scores in cells.
_WEIGHT_START = 0.01


def estimate_qv(mol: pd.DataFrame, *, inside: np.ndarray, control: np.ndarray, out: Estimates) -> None:
    """Add the quality-score fields to ``out``: background from the controls, genes from ``inside`` molecules."""
    if "qv" not in mol.columns or not mol["qv"].notna().any():
        for key in ("qv_mean", "qv_sd", "qv_cap_fraction", "qv_background_mean", "qv_background_sd",
                    "qv_background_cap_fraction"):
            out.missing[f"instrument.{key}"] = "the molecules have no qv"
        return
    out.missing["instrument.qv_density_scale_per_um2"] = (
        "not fitted: the fitted cap shares are averages over the reference's cells")
    qv = mol["qv"].to_numpy(float)
    background = None
    if control.sum() >= 2:
        background = fit_qv(qv[control & np.isfinite(qv)])
        out.fields.update({"instrument.qv_background_mean": background.mean,
                           "instrument.qv_background_sd": background.sd,
                           "instrument.qv_background_cap_fraction": background.cap_fraction})
        out.measured.update({"qv_background_mean_se": background.mean_se, "qv_background_sd_se": background.sd_se,
                             "qv_background_cap_fraction_se": background.cap_fraction_se})
    else:
        for key in ("qv_background_mean", "qv_background_sd", "qv_background_cap_fraction"):
            out.missing[f"instrument.{key}"] = "fewer than two control molecules"
        out.notes.append("qv_mean: no controls to tell background scores in cells apart; fitted as one normal")
    genes = fit_qv(qv[inside & np.isfinite(qv)], background=background)
    out.fields.update({"instrument.qv_mean": genes.mean, "instrument.qv_sd": genes.sd,
                       "instrument.qv_cap_fraction": genes.cap_fraction})
    out.measured.update({"qv_mean_se": genes.mean_se, "qv_sd_se": genes.sd_se,
                         "qv_cap_fraction_se": genes.cap_fraction_se,
                         "qv_background_fraction_in_cells": genes.background_fraction})


@dataclass(frozen=True)
class QvFit:
    """The mixture fitted to scores clipped to [0, 40], with standard errors.

    ``mean`` and ``sd`` are the unclipped normal's, ``cap_fraction`` the mass at 40 beyond the
    normal's own draws above it, ``background_fraction`` the weight of the fixed background
    mixture (0 without one).
    """

    mean: float
    sd: float
    mean_se: float
    sd_se: float
    background_fraction: float = 0.0
    cap_fraction: float = 0.0
    cap_fraction_se: float = 0.0


def _log_weights(logit: float) -> tuple[float, float]:
    """Return log p and log(1 − p) of p = logistic(logit), without overflow."""
    return -float(np.logaddexp(0.0, -logit)), -float(np.logaddexp(0.0, logit))


def fit_qv(values: np.ndarray, *, background: QvFit | None = None, max_values: int = _MAX_QV_VALUES) -> QvFit:
    """Maximum-likelihood mixture of a mass at 40 and a normal clipped to [0, 40], optionally with a known background.

    Parameters
    ----------
    values
        The scores; those at 0 or 40 count as censored there (40 may also be the cap's mass).
    background
        A second mixture of known mean, s.d. and cap share (the background scores); its weight
        is fitted.
    max_values
        Scores used at most (every k-th, deterministic).

    Returns
    -------
    The fit; the mean is kept in [0, 40] as the config requires; standard errors from the
    inverse observed information.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.clip(rng.normal(30, 5, 20000), 0, 40)
    >>> x[rng.random(20000) < 0.5] = 40.0
    >>> fit = fit_qv(x)
    >>> round(fit.mean), round(fit.sd), round(fit.cap_fraction, 1)
    (30, 5, 0.5)
    """
    values = np.asarray(values, dtype=float)
    values = values[:: max(1, math.ceil(len(values) / max_values))]
    low, high = values <= 1e-6, values >= QV_MAX - 1e-6
    mid = values[~low & ~high]
    n_low, n_high = float(low.sum()), float(high.sum())

    def component(mu: float, sigma: float, cap_logit: float) -> tuple[np.ndarray, float, float]:
        # Log-likelihood of a score below 40, at 0, and at 40 under one mixture.
        log_cap, log_rest = _log_weights(cap_logit)
        at_cap = float(np.logaddexp(log_cap, log_rest + stats.norm.logsf(QV_MAX, mu, sigma)))
        return (log_rest + stats.norm.logpdf(mid, mu, sigma), log_rest + float(stats.norm.logcdf(0.0, mu, sigma)),
                at_cap)

    bg = None
    if background is not None:
        cap = min(max(background.cap_fraction, 1e-12), 1 - 1e-12)
        bg = component(background.mean, max(background.sd, 1e-6), math.log(cap / (1 - cap)))

    def mean_of(raw: float) -> float:
        return QV_MAX / (1.0 + math.exp(-raw))

    def nll_fg(theta: np.ndarray) -> float:
        fg = component(mean_of(theta[0]), math.exp(theta[1]), theta[2])
        return -(fg[0].sum() + n_low * fg[1] + n_high * fg[2])

    def nll(theta: np.ndarray) -> float:
        if bg is None:
            return nll_fg(theta)
        fg = component(mean_of(theta[0]), math.exp(theta[1]), theta[2])
        # The mixture (1 − π) fg + π bg as log f + log1p(π (b/f − 1)): linear in π, so defined a little
        # below 0 and the Hessian at π = 0 (few background scores) is finite. A logit of π ran off to −∞
        # there and the pseudo-inverse gave the mean an error of 0: the mean's error must carry π's.
        w = theta[3]
        parts = [f + np.log1p(np.maximum(w * np.expm1(np.minimum(b - f, 700.0)), -1 + 1e-300))
                 for f, b in zip(fg, bg, strict=True)]
        return -(parts[0].sum() + n_low * parts[1] + n_high * parts[2])

    mid_mean = float(np.clip(mid.mean(), 1.0, QV_MAX - 1.0)) if len(mid) else 20.0
    start = [math.log(mid_mean / (QV_MAX - mid_mean)), math.log(max(float(mid.std()) if len(mid) > 1 else 1.0, 1e-3)),
             -2.0]
    # The mixture without background first (robust in three dimensions), then the weight from there, kept
    # below ½ (the genes' scores are the majority in cells): from a cold start the weight ran off to 1.
    theta = optimize.minimize(nll_fg, np.array(start),
                              method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 8000}).x
    if bg is not None:
        # Per score, so the optimiser's tolerances mean the same at any sample size.
        theta = optimize.minimize(lambda t: nll(t) / len(values), np.append(theta, _WEIGHT_START), method="L-BFGS-B",
                                  bounds=[(None, None)] * 3 + [(0.0, 0.5)]).x
    steps = np.full(len(theta), 1e-3)
    if bg is not None:
        steps[3] = 1e-4
    cov = np.linalg.pinv(_hessian(nll, theta, steps))
    mean, sigma = mean_of(theta[0]), math.exp(theta[1])
    cap = float(1 / (1 + math.exp(-theta[2])))
    weight = float(theta[3]) if bg is not None else 0.0
    # Delta method from the transformed parameters back to the fields.
    mean_se = mean * (1 - mean / QV_MAX) * math.sqrt(max(cov[0, 0], 0))
    return QvFit(mean, sigma, mean_se, sigma * math.sqrt(max(cov[1, 1], 0)), weight, cap,
                 cap * (1 - cap) * math.sqrt(max(cov[2, 2], 0)))


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``x``, with step ``steps[i]`` along coordinate i."""
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            e_i, e_j = np.eye(n)[i] * steps[i], np.eye(n)[j] * steps[j]
            h[i, j] = h[j, i] = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)) / (
                4 * steps[i] * steps[j])
    return h
