"""Gene classes (marker / housekeeping / silent) and the seed model's gamma priors from a count fit.

Classes, per gene, from the fitted means μ_tg (molecules per cell at size factor 1):

- **silent**: below :data:`SILENT_MU` in every type (seen in fewer than ~5 % of cells anywhere);
- **marker of t**: μ_tg is at least :data:`MARKER_FOLD` times the highest mean of any other type
  and at least :data:`SILENT_MU` (with one type there are no markers);
- **housekeeping**: the rest.

The seed model draws, per type k: every gene's μ from the silence prior, the housekeeping genes'
from the housekeeping prior, k's markers' from the marker prior (``stages/genes.py``). So the
priors are fitted to the same sets: markers in their own type, housekeeping genes in every type,
and the silence prior to silent genes in every type plus markers outside their own type. Each
prior is the Gamma of the set's mean and coefficient of variation (``get_*_gamma_prior`` take
exactly these), and the θ prior the Gamma of the fitted θ's mean and variance (shape = m²/v,
rate = m/v).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from STpuppeteer.config.panel import CV_RANGE, MEAN_RANGE, THETA_ALPHA_RANGE, THETA_RATE_RANGE
from STpuppeteer.fit.counts import CountFit

__all__ = ["MARKER_FOLD", "SILENT_MU", "GeneClasses", "classify_genes", "seed_priors"]

#: Below this mean in every type a gene is silent (P(y > 0) < 5 % for a Poisson of this mean).
SILENT_MU = 0.05
#: A marker's mean in its type over the highest mean of any other type.
MARKER_FOLD = 4.0


@dataclass(frozen=True)
class GeneClasses:
    """Each gene's class and, for markers, the type it marks (``-1`` otherwise)."""

    gene_class: np.ndarray
    marks: np.ndarray

    def markers_of(self, k: int) -> np.ndarray:
        """Indices of the markers of type ``k``."""
        return np.flatnonzero(self.marks == k)


def classify_genes(mu: np.ndarray, *, silent_mu: float = SILENT_MU, marker_fold: float = MARKER_FOLD) -> GeneClasses:
    """Classify genes from their fitted means (cell types × genes); see the module docstring.

    Parameters
    ----------
    mu
        Fitted means, cell types × genes.
    silent_mu, marker_fold
        The thresholds (defaults :data:`SILENT_MU`, :data:`MARKER_FOLD`).

    Returns
    -------
    The classes (``"marker"``, ``"housekeeping"``, ``"silent"``) and the marked types.
    """
    n_types, n_genes = mu.shape
    top = np.argmax(mu, axis=0)
    best = mu[top, np.arange(n_genes)]
    second = np.sort(mu, axis=0)[-2] if n_types > 1 else np.full(n_genes, np.inf)
    silent = best < silent_mu
    marker = ~silent & (best >= marker_fold * second)
    gene_class = np.where(silent, "silent", np.where(marker, "marker", "housekeeping"))
    return GeneClasses(gene_class=gene_class, marks=np.where(marker, top, -1))


def seed_priors(fit: CountFit, classes: GeneClasses) -> dict[str, float | int]:
    """The seed model's prior fields (and panel sizes) that reproduce the fitted spread.

    Parameters
    ----------
    fit
        The count fit.
    classes
        Its gene classes.

    Returns
    -------
    ``n_markers`` (the mean per type, rounded), ``n_silence``, ``marker_mu`` … ``theta_rate``:
    config fields. A set with no gene leaves its prior at the config default (not returned).
    """
    mu = fit.mu
    n_types = mu.shape[0]
    own = np.zeros_like(mu, dtype=bool)
    for k in range(n_types):
        own[k, classes.markers_of(k)] = True
    marker = classes.gene_class == "marker"
    sets = {
        "marker": mu[own],
        "hk": mu[:, classes.gene_class == "housekeeping"].ravel(),
        "silence": np.concatenate([mu[:, classes.gene_class == "silent"].ravel(), mu[:, marker][~own[:, marker]]]),
    }
    out: dict[str, float | int] = {
        "n_markers": round(marker.sum() / n_types),
        "n_silence": int((classes.gene_class == "silent").sum()),
    }
    for name, values in sets.items():
        values = values[np.isfinite(values)]
        if len(values) >= 2 and values.mean() > 0:
            out[f"{name}_mu"] = float(np.clip(values.mean(), *MEAN_RANGE))
            out[f"{name}_cv"] = float(np.clip(values.std(ddof=1) / values.mean(), *CV_RANGE))
    theta = fit.theta[np.isfinite(fit.theta) & (fit.mu > 0)]
    if len(theta) >= 2 and theta.var() > 0:
        m, v = float(theta.mean()), float(theta.var(ddof=1))
        out["theta_alpha"] = float(np.clip(m * m / v, *THETA_ALPHA_RANGE))
        out["theta_rate"] = float(np.clip(m / v, *THETA_RATE_RANGE))
    return out
