"""How far a simulation is from a real dataset: the statistics both show, and one distance per statistic.

:func:`realism_statistics` reduces a :class:`~STpuppeteer.fit.reference.Reference` (simulated or
real, the same shape) to what a realism report compares (it lives in :mod:`STpuppeteer.fit.statistics`
and is re-exported here, with :class:`RealismStatistics`); :func:`compare_references` turns two of
them into a table of **distances**, one row per statistic, each with the direction that is better.

Distances, and why:

- **Distributions over cells** (molecules per cell, genes detected per cell, cell and nucleus
  areas, molecules per µm² of cell) and **over genes** (mean, variance-to-mean ratio, zero
  fraction, nuclear fraction): the two-sample Kolmogorov–Smirnov statistic D (``ks``, 0 = the
  same distribution, 1 = disjoint). It needs no binning, no matching of cells or genes between
  the two sides, and is unchanged by any monotone transform, so the KS of per-gene means is
  that of their logarithm (a zero mean is not a problem).
- **qv**: the same D, on the molecules' qv histograms (bins of :data:`QV_BIN_WIDTH`): exact
  for qv on that grid (integer, half- or quarter-unit scores), otherwise a lower bound that
  misses at most the within-bin differences. A histogram keeps memory bounded for 10⁸ molecules.
- **Per-gene means, gene by gene**: the Pearson correlation of log(1 + mean) over the genes the
  two share by name (``correlation``, higher is better). It sees what the KS cannot: whether
  the *same* genes are high and low. NaN, with a note, when fewer than 3 genes are shared.
- **Mean–variance relation** (``binned difference``): the genes of each side are binned by
  log₁₀ mean on equal-width bins spanning the range both sides cover; in each bin holding at
  least :data:`MIN_GENES_PER_BIN` genes of each side, the medians of log₁₀(variance / mean)
  are compared; the value is the mean absolute difference over those bins, in log₁₀ units
  (0.3 ≈ a factor 2 in variance at equal mean). Matching on the mean separates the
  over-dispersion from the means themselves, which the KS of the ratio mixes together.
- **Control rate** (``relative difference``): 2 |s − r| / (s + r) of the control molecules per
  µm² of region (per cell when a side has no region area): symmetric, bounded in [0, 2],
  ≈ |s − r| / r for small differences, and finite when one side is 0.

A statistic a side lacks (no molecules, no areas, no qv) is a row with NaN and a note saying
which side lacks what; no row is ever dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import stats

from STpuppeteer.fit.statistics import (
    MIN_IN_CELL_MOLECULES,
    QV_BIN_WIDTH,
    RealismStatistics,
    realism_statistics,
)

if TYPE_CHECKING:
    from STpuppeteer.fit.reference import Reference

__all__ = [
    "DISTANCE_COLUMNS",
    "METHODS",
    "MIN_GENES_PER_BIN",
    "MIN_IN_CELL_MOLECULES",
    "QV_BIN_WIDTH",
    "RealismStatistics",
    "compare_references",
    "compare_statistics",
    "is_better",
    "realism_statistics",
]

#: Genes each side needs in a bin of log mean for the bin to enter the mean–variance distance.
MIN_GENES_PER_BIN = 3
_MAX_MEAN_BINS = 8
_MIN_SHARED_GENES = 3

#: Columns of the distance table returned by :func:`compare_references`.
DISTANCE_COLUMNS = ("statistic", "kind", "value", "better", "n_sim", "n_real", "note")

Kind = Literal["ks", "correlation", "relative difference", "binned difference"]

#: Each statistic of the distance table, in row order: its kind and what it measures.
METHODS: dict[str, tuple[Kind, str]] = {
    "totals_per_cell": ("ks", "KS D of the molecules (counts) per cell"),
    "genes_per_cell": ("ks", "KS D of the genes detected (count > 0) per cell"),
    "cell_area": ("ks", "KS D of the cell areas (µm²)"),
    "nucleus_area": ("ks", "KS D of the nucleus areas (µm²)"),
    "molecules_per_um2": ("ks", "KS D of counts per µm² of cell (total / cell area)"),
    "gene_mean": ("ks", "KS D of the per-gene mean counts (as of their logs: KS ignores monotone maps)"),
    "gene_mean_correlation": ("correlation", "Pearson r of log(1 + mean) over the genes both share by name"),
    "gene_variance_to_mean": ("ks", "KS D of the per-gene variance / mean (genes with mean > 0)"),
    "mean_variance": ("binned difference", "mean |Δ median log10(var/mean)| over shared bins of log10 mean"),
    "gene_zero_fraction": ("ks", "KS D of the per-gene fraction of cells with count 0"),
    "nuclear_fraction": ("ks", f"KS D of the per-gene fraction of in-cell molecules over the nucleus "
                               f"(genes with >= {MIN_IN_CELL_MOLECULES})"),
    "qv": ("ks", f"KS D of the gene molecules' qv (histograms, {QV_BIN_WIDTH:g}-wide bins)"),
    "control_rate": ("relative difference", "2|s - r| / (s + r) of control molecules per µm² of region "
                                             "(per cell without a region area)"),
}


# --- distances ------------------------------------------------------------------------------------

def _row(statistic: str, value: float, n_sim: int, n_real: int, note: str = "") -> dict[str, object]:
    kind, _ = METHODS[statistic]
    return {"statistic": statistic, "kind": kind, "value": float(value),
            "better": "higher" if kind == "correlation" else "lower",
            "n_sim": int(n_sim), "n_real": int(n_real), "note": note}


def _lacking(statistic: str, what: str, sim_why: str | None, real_why: str | None,
             n_sim: int = 0, n_real: int = 0) -> dict[str, object]:
    sides = [f"{side} lacks {what} ({why})" for side, why in (("sim", sim_why), ("real", real_why)) if why]
    note = "; ".join(sides) if sides else f"no {what}"
    return _row(statistic, np.nan, n_sim, n_real, note)


def _ks_row(statistic: str, what: str, sim: np.ndarray | None, real: np.ndarray | None,
            sim_why: str | None, real_why: str | None) -> dict[str, object]:
    if sim is not None and len(sim) == 0:
        sim, sim_why = None, "it has none"
    if real is not None and len(real) == 0:
        real, real_why = None, "it has none"
    if sim is None or real is None:
        return _lacking(statistic, what, (sim_why or "not computed") if sim is None else None,
                        (real_why or "not computed") if real is None else None,
                        0 if sim is None else len(sim), 0 if real is None else len(real))
    # Only D is used; the asymptotic p-value spares the exact one's failures on small samples with ties.
    d = stats.ks_2samp(np.asarray(sim, dtype=float), np.asarray(real, dtype=float), method="asymp").statistic
    return _row(statistic, d, len(sim), len(real))


def _binned_ks(sim: pd.Series, real: pd.Series) -> float:
    """KS D between two histograms on the same grid (Series of counts indexed by left edge)."""
    both = pd.concat([sim.rename("s"), real.rename("r")], axis=1).fillna(0).sort_index()
    cdf_s = both["s"].cumsum() / both["s"].sum()
    cdf_r = both["r"].cumsum() / both["r"].sum()
    return float(np.max(np.abs(cdf_s.to_numpy() - cdf_r.to_numpy())))


def _mean_variance_distance(sim: RealismStatistics, real: RealismStatistics) -> dict[str, object]:
    def log_sides(st: RealismStatistics) -> tuple[np.ndarray, np.ndarray]:
        m, v = st.gene_mean.to_numpy(), st.gene_variance.to_numpy()
        ok = (m > 0) & (v > 0)
        return np.log10(m[ok]), np.log10(v[ok] / m[ok])

    (lm_s, lr_s), (lm_r, lr_r) = log_sides(sim), log_sides(real)
    if len(lm_s) == 0 or len(lm_r) == 0:
        return _lacking("mean_variance", "genes with a positive mean and variance",
                        "none" if len(lm_s) == 0 else None, "none" if len(lm_r) == 0 else None,
                        len(lm_s), len(lm_r))
    lo, hi = max(lm_s.min(), lm_r.min()), min(lm_s.max(), lm_r.max())
    if not hi > lo:
        return _row("mean_variance", np.nan, len(lm_s), len(lm_r),
                    "the two sides' gene means do not overlap: no bin to match")
    in_s, in_r = (lm_s >= lo) & (lm_s <= hi), (lm_r >= lo) & (lm_r <= hi)
    n_bins = int(np.clip(min(in_s.sum(), in_r.sum()) // 10, 1, _MAX_MEAN_BINS))
    edges = np.linspace(lo, hi, n_bins + 1)
    bin_s = np.clip(np.searchsorted(edges, lm_s[in_s], side="right") - 1, 0, n_bins - 1)
    bin_r = np.clip(np.searchsorted(edges, lm_r[in_r], side="right") - 1, 0, n_bins - 1)
    diffs, n_s, n_r = [], 0, 0
    for k in range(n_bins):
        ks, kr = lr_s[in_s][bin_s == k], lr_r[in_r][bin_r == k]
        if len(ks) >= MIN_GENES_PER_BIN and len(kr) >= MIN_GENES_PER_BIN:
            diffs.append(abs(np.median(ks) - np.median(kr)))
            n_s, n_r = n_s + len(ks), n_r + len(kr)
    if not diffs:
        return _row("mean_variance", np.nan, int(in_s.sum()), int(in_r.sum()),
                    f"no bin of log10 mean holds {MIN_GENES_PER_BIN} genes of each side")
    note = f"{len(diffs)} of {n_bins} bins over log10 mean [{lo:.2f}, {hi:.2f}]"
    return _row("mean_variance", float(np.mean(diffs)), n_s, n_r, note)


def _correlation_row(sim: RealismStatistics, real: RealismStatistics) -> dict[str, object]:
    shared = sim.gene_mean.index.intersection(real.gene_mean.index)
    n = len(shared)
    if n < _MIN_SHARED_GENES:
        what = "no gene" if n == 0 else f"only {n} gene(s)"
        return _row("gene_mean_correlation", np.nan, n, n,
                    f"the two share {what} by name (need {_MIN_SHARED_GENES})")
    a = np.log1p(sim.gene_mean.loc[shared].to_numpy())
    b = np.log1p(real.gene_mean.loc[shared].to_numpy())
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return _row("gene_mean_correlation", np.nan, n, n, "the shared genes' means are constant on a side")
    note = "" if n == len(sim.gene_mean) == len(real.gene_mean) else (
        f"{n} shared of {len(sim.gene_mean)} sim and {len(real.gene_mean)} real genes")
    return _row("gene_mean_correlation", float(np.corrcoef(a, b)[0, 1]), n, n, note)


def _control_row(sim: RealismStatistics, real: RealismStatistics) -> dict[str, object]:
    if sim.n_control_molecules is None or real.n_control_molecules is None:
        return _lacking("control_rate", "control molecules",
                        sim.missing.get("n_control_molecules"), real.missing.get("n_control_molecules"),
                        sim.n_control_molecules or 0, real.n_control_molecules or 0)
    if sim.control_per_um2 is not None and real.control_per_um2 is not None:
        s, r, note = sim.control_per_um2, real.control_per_um2, "per µm² of region"
    else:
        sides = " and ".join(side for side, st in (("sim", sim), ("real", real)) if st.control_per_um2 is None)
        s, r = sim.control_per_cell, real.control_per_cell
        note = f"per cell: {sides} has no region area"
    assert s is not None and r is not None  # set with n_control_molecules
    value = 0.0 if s + r == 0 else 2 * abs(s - r) / (s + r)
    return _row("control_rate", value, sim.n_control_molecules, real.n_control_molecules, note)


def compare_statistics(sim: RealismStatistics, real: RealismStatistics) -> pd.DataFrame:
    """Distances between the statistics of a simulation and of a real dataset (see the module).

    Parameters
    ----------
    sim, real
        :func:`realism_statistics` of the two datasets.

    Returns
    -------
    One row per statistic of :data:`METHODS`, in its order, columns :data:`DISTANCE_COLUMNS`.
    """
    ms, mr = sim.missing, real.missing

    def per_gene(st: RealismStatistics, what: str) -> np.ndarray:
        m = st.gene_mean.to_numpy()
        if what == "ratio":
            return st.gene_variance.to_numpy()[m > 0] / m[m > 0]
        return m

    def hist_ks() -> dict[str, object]:
        if sim.qv_histogram is None or real.qv_histogram is None:
            return _lacking("qv", "qv", ms.get("qv_histogram") if sim.qv_histogram is None else None,
                            mr.get("qv_histogram") if real.qv_histogram is None else None,
                            0 if sim.qv_histogram is None else int(sim.qv_histogram.sum()),
                            0 if real.qv_histogram is None else int(real.qv_histogram.sum()))
        return _row("qv", _binned_ks(sim.qv_histogram, real.qv_histogram), int(sim.qv_histogram.sum()),
                    int(real.qv_histogram.sum()))

    def series(s: pd.Series | None) -> np.ndarray | None:
        return None if s is None else s.to_numpy()

    rows = [
        _ks_row("totals_per_cell", "cells", sim.totals_per_cell, real.totals_per_cell, None, None),
        _ks_row("genes_per_cell", "cells", sim.genes_per_cell, real.genes_per_cell, None, None),
        _ks_row("cell_area", "cell areas", sim.cell_area, real.cell_area, ms.get("cell_area"),
                mr.get("cell_area")),
        _ks_row("nucleus_area", "nucleus areas", sim.nucleus_area, real.nucleus_area, ms.get("nucleus_area"),
                mr.get("nucleus_area")),
        _ks_row("molecules_per_um2", "cell areas", sim.molecules_per_um2, real.molecules_per_um2,
                ms.get("molecules_per_um2"), mr.get("molecules_per_um2")),
        _ks_row("gene_mean", "genes", per_gene(sim, "mean"), per_gene(real, "mean"), None, None),
        _correlation_row(sim, real),
        _ks_row("gene_variance_to_mean", "genes with a positive mean", per_gene(sim, "ratio"),
                per_gene(real, "ratio"), None, None),
        _mean_variance_distance(sim, real),
        _ks_row("gene_zero_fraction", "genes", sim.gene_zero_fraction.to_numpy(),
                real.gene_zero_fraction.to_numpy(), None, None),
        _ks_row("nuclear_fraction", "per-gene nuclear fractions", series(sim.nuclear_fraction),
                series(real.nuclear_fraction), ms.get("nuclear_fraction"), mr.get("nuclear_fraction")),
        hist_ks(),
        _control_row(sim, real),
    ]
    return pd.DataFrame(rows, columns=list(DISTANCE_COLUMNS))


def compare_references(sim: Reference, real: Reference) -> pd.DataFrame:
    """Distances between a simulated and a real dataset, one row per statistic.

    Parameters
    ----------
    sim
        The simulation, as a reference.
    real
        The real dataset.

    Returns
    -------
    Columns ``statistic``, ``kind`` (``ks``, ``correlation``, ``relative difference``,
    ``binned difference``), ``value``, ``better`` (``'lower'`` or ``'higher'``), ``n_sim``,
    ``n_real`` (the values each side contributed) and ``note``. A statistic a side lacks has
    value NaN and a note saying which side lacks what. The distances are described in the
    module docstring and :data:`METHODS`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from scipy import sparse
    >>> from STpuppeteer.fit.reference import Reference
    >>> rng = np.random.default_rng(0)
    >>> counts = sparse.csr_matrix(rng.poisson(2.0, size=(50, 10)))
    >>> ref = Reference(counts, [f"g{k}" for k in range(10)], pd.DataFrame(index=[f"c{k}" for k in range(50)]))
    >>> table = compare_references(ref, ref).set_index("statistic")
    >>> float(table.loc["totals_per_cell", "value"]), float(table.loc["gene_mean_correlation", "value"])
    (0.0, 1.0)
    >>> table.loc["cell_area", "note"]
    'sim lacks cell areas (the cells table has no cell_area column); real lacks cell areas (the cells table has no cell_area column)'
    """  # noqa: E501
    return compare_statistics(realism_statistics(sim), realism_statistics(real))


def is_better(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
    """Per statistic, whether distances ``a`` beat distances ``b`` (strictly, in each row's direction).

    Parameters
    ----------
    a, b
        Two tables of :func:`compare_references`, e.g. (simulation from the fit, real) and
        (simulation from a default preset, real).

    Returns
    -------
    A nullable boolean series indexed by statistic: ``True`` where ``a``'s value is lower
    (higher, for a correlation) than ``b``'s, ``False`` where not (a tie is not a win), and
    ``<NA>`` where either value is NaN. ``result.dropna().all()`` asks "better on every
    statistic both can measure"; ``result.isna()`` names the others.

    Examples
    --------
    >>> a = pd.DataFrame({"statistic": ["qv", "gene_mean_correlation"], "value": [0.1, 0.9],
    ...                   "better": ["lower", "higher"]})
    >>> b = a.assign(value=[0.2, float("nan")])
    >>> is_better(a, b)
    statistic
    qv                       True
    gene_mean_correlation    <NA>
    Name: a_is_better, dtype: boolean
    """
    left, right = a.set_index("statistic"), b.set_index("statistic")
    if list(left.index) != list(right.index):
        msg = f"the two tables compare different statistics: {list(left.index)} and {list(right.index)}."
        raise ValueError(msg)
    if not (left["better"] == right["better"]).all():
        msg = "the two tables disagree on which direction is better for some statistic."
        raise ValueError(msg)
    va, vb = left["value"].astype(float), right["value"].astype(float)
    wins = np.where(left["better"] == "higher", va > vb, va < vb)
    out = pd.Series(wins, index=left.index, dtype="boolean", name="a_is_better")
    out[va.isna() | vb.isna()] = pd.NA
    return out
