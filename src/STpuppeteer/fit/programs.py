"""The program model from a count fit: programs and activations by non-negative factorisation.

The program model (``docs/model_programs.md``) gives type k the gene means
max(μ0 + Σ_p W_gp a_kp, ε) and a Gamma CV of φ0 m^-α at mean m. From the fitted means M
(types × genes):

- **baseline** μ0: the 5th percentile over genes of each gene's lowest mean across types (a
  near-silent level: the baseline applies to every gene, so it must not lift the quiet ones;
  housekeeping genes get a program active in every type instead);
- **programs**: R = max(M − μ0, 0) ≈ A Wᵀ by non-negative matrix factorisation
  (:class:`sklearn.decomposition.NMF`, NNDSVDa start, so the result is deterministic) at the
  smallest rank whose relative reconstruction error is below ``tolerance`` (at most the number
  of types, where it is exact). Each program is scaled so its largest activation is 1; loadings
  below ``min_loading`` molecules per cell are dropped (they change no mean by more than that);
- **overdispersion**: the NB dispersion is the Gamma's CV², 1/θ = φ0² m^-2α, so a least-squares
  line of log(1/θ) on log μ over the (type, gene) pairs with μ ≥ 0.1 gives α = −slope/2 and
  φ0 = exp(intercept/2), clipped to the config's bounds.

Activations are fitted per type, not per cell: ``activation_sd`` is 0, and the cell-to-cell
variation within a type is the NB's.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from STpuppeteer.fit.counts import CountFit
from STpuppeteer.fit.estimates import Estimates

__all__ = ["fit_programs"]

_MIN_MU_FOR_DISPERSION = 0.1
_MIN_ACTIVATION = 1e-4


def fit_programs(
    fit: CountFit, *, tolerance: float = 0.05, min_loading: float = 1e-3, max_rank: int | None = None
) -> Estimates:
    """Program-model config fields from a count fit.

    Parameters
    ----------
    fit
        The count fit (its ``mu``, ``theta``, proportions, genes and types).
    tolerance
        Largest relative Frobenius error ‖R − A Wᵀ‖ / ‖R‖ the chosen rank may leave.
    min_loading
        Loadings below this (molecules per cell per unit activation) are dropped.
    max_rank
        Most programs (default: the number of types).

    Returns
    -------
    ``programs``, ``cell_type_specs``, ``expression_baseline``, ``overdispersion_cv``,
    ``overdispersion_exponent`` and ``extra_genes`` (genes no program loads), with the
    reconstruction error and rank in ``measured``.
    """
    from sklearn.decomposition import NMF

    mu = np.nan_to_num(fit.mu, nan=0.0)
    baseline = float(np.quantile(mu.min(axis=0), 0.05))
    resid = np.maximum(mu - baseline, 0.0)
    norm = float(np.linalg.norm(resid))
    n_types = mu.shape[0]
    top = min(n_types, mu.shape[1]) if max_rank is None else min(max_rank, n_types, mu.shape[1])
    activations, loadings, error = np.zeros((n_types, 0)), np.zeros((0, mu.shape[1])), 1.0
    for rank in range(1, top + 1):
        model = NMF(n_components=rank, init="nndsvda", max_iter=2000, tol=1e-6, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings: the error below is what we judge
            activations = model.fit_transform(resid) if norm > 0 else np.zeros((n_types, rank))
        loadings = model.components_ if norm > 0 else np.zeros((rank, mu.shape[1]))
        error = float(np.linalg.norm(resid - activations @ loadings) / norm) if norm > 0 else 0.0
        if error <= tolerance:
            break
    scale = activations.max(axis=0)
    keep = scale > 0
    activations, loadings = activations[:, keep] / scale[keep], loadings[keep] * scale[keep, None]
    activations[activations < _MIN_ACTIVATION] = 0.0  # factorisation round-off, not biology
    programs: list[dict[str, Any]] = []
    loaded = np.zeros(mu.shape[1], dtype=bool)
    for p, row in enumerate(loadings):
        idx = np.flatnonzero(row >= min_loading)
        loaded[idx] = True
        top_genes = [fit.genes[i] for i in idx[np.argsort(-row[idx])][:5]]
        programs.append({
            "name": f"program_{p + 1}",
            "loading": {fit.genes[i]: float(row[i]) for i in idx},
            "description": f"fitted (NMF); top genes: {', '.join(top_genes)}",
        })
    specs = {
        ct: {"proportion": float(fit.proportions[k]),
             "program_activations": {prog["name"]: float(activations[k, p]) for p, prog in enumerate(programs)
                                     if activations[k, p] > 0}}
        for k, ct in enumerate(fit.celltypes)
    }
    cv0, alpha = _overdispersion(fit)
    out = Estimates(
        fields={"programs": programs, "cell_type_specs": specs, "expression_baseline": baseline,
                "overdispersion_cv": cv0, "overdispersion_exponent": alpha,
                "extra_genes": [g for g, on in zip(fit.genes, loaded, strict=True) if not on]},
        measured={"programs_rank": float(len(programs)), "programs_relative_error": error},
    )
    if not programs:
        out.missing["programs"] = "every type has the same means: no program is needed beyond the baseline"
    return out


def _overdispersion(fit: CountFit) -> tuple[float, float]:
    """φ0 and α of the program model's CV φ0 m^-α, from the fitted θ (module docstring)."""
    ok = (fit.mu >= _MIN_MU_FOR_DISPERSION) & np.isfinite(fit.theta)
    if ok.sum() < 3:
        return 0.5, 0.3  # the config's defaults: too few genes to see a trend
    x, y = np.log(fit.mu[ok]), np.log(1 / fit.theta[ok])
    alpha = float(np.clip(-np.polyfit(x, y, 1)[0] / 2, 0.0, 1.0))
    cv0 = float(np.clip(np.exp(np.mean(y + 2 * alpha * x) / 2), 1e-3, 10.0))  # the intercept at the clipped α
    return cv0, alpha
