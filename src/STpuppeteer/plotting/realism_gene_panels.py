"""Realism panels of the genes: mean against variance, zero fraction, mean gene by gene (scatters).

Each draws one :class:`~STpuppeteer.plotting.realism_base.RealismData` pair on an ``Axes``;
:mod:`STpuppeteer.plotting.realism` lists them in ``PANELS`` and re-exports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from STpuppeteer.plotting.realism_base import _POISSON_COLOR, SIM_COLOR, _legend, _sides, _style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from STpuppeteer.plotting.realism_base import RealismData

__all__ = ["plot_gene_mean", "plot_gene_zero_fraction", "plot_mean_variance"]


def _positive(st: RealismData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = st.gene_mean.to_numpy(dtype=float)
    v = st.gene_variance.to_numpy(dtype=float)
    z = st.gene_zero_fraction.to_numpy(dtype=float)
    ok = m > 0
    return m[ok], v[ok], z[ok]


def plot_mean_variance(sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None) -> Axes:
    """Per-gene mean against variance (log–log), with the Poisson line variance = mean.

    Parameters
    ----------
    sim, real
        The two sides' statistics.
    ax
        Where to draw.
    annotation
        A second title line, e.g. the distance.

    Returns
    -------
    ``ax``.
    """
    means = []
    for label, st, color in _sides(sim, real):
        m, v, _ = _positive(st)
        keep = v > 0
        ax.scatter(m[keep], v[keep], s=7, alpha=0.6, color=color, linewidths=0,
                   label=f"{label} ({keep.sum():,} genes)")
        means.append(m[keep])
    allm = np.concatenate(means)
    if len(allm):
        grid = np.logspace(np.log10(allm.min()), np.log10(allm.max()), 50)
        ax.plot(grid, grid, ls="--", lw=1, color=_POISSON_COLOR, label="Poisson: var = mean")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gene mean (counts per cell)", fontsize=9)
    ax.set_ylabel("gene variance (counts²)", fontsize=9)
    _legend(ax, loc="upper left")
    _style(ax, "Mean–variance per gene", annotation)
    return ax


def plot_gene_zero_fraction(
    sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None
) -> Axes:
    """Per-gene fraction of cells with count 0 against the mean, with the Poisson curve exp(−m).

    Parameters
    ----------
    sim, real
        The two sides' statistics.
    ax
        Where to draw.
    annotation
        A second title line, e.g. the distance.

    Returns
    -------
    ``ax``.
    """
    means = []
    for label, st, color in _sides(sim, real):
        m, _, z = _positive(st)
        ax.scatter(m, z, s=7, alpha=0.6, color=color, linewidths=0, label=f"{label} ({len(m):,} genes)")
        means.append(m)
    allm = np.concatenate(means)
    if len(allm):
        grid = np.logspace(np.log10(allm.min()), np.log10(allm.max()), 100)
        ax.plot(grid, np.exp(-grid), ls="--", lw=1, color=_POISSON_COLOR, label="Poisson: exp(−mean)")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("gene mean (counts per cell)", fontsize=9)
    ax.set_ylabel("fraction of cells with count 0 (0–1)", fontsize=9)
    _legend(ax, loc="lower left")
    _style(ax, "Zero fraction per gene", annotation)
    return ax


def plot_gene_mean(sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None) -> Axes:
    """The genes both sides share: simulated mean against real mean (log–log), with y = x.

    Parameters
    ----------
    sim, real
        The two sides' statistics.
    ax
        Where to draw.
    annotation
        A second title line, e.g. the distance.

    Returns
    -------
    ``ax``.
    """
    shared = sim.gene_mean.index.intersection(real.gene_mean.index)
    x = real.gene_mean.loc[shared].to_numpy(dtype=float)
    y = sim.gene_mean.loc[shared].to_numpy(dtype=float)
    ok = (x > 0) & (y > 0)
    ax.scatter(x[ok], y[ok], s=8, alpha=0.7, color=SIM_COLOR, linewidths=0,
               label=f"{ok.sum():,} shared genes (mean > 0)")
    lines = [f"{len(shared) - ok.sum():,} shared genes with mean 0 not drawn"] if (~ok).any() else []
    if ok.any():
        lo, hi = min(x[ok].min(), y[ok].min()), max(x[ok].max(), y[ok].max())
        ax.plot([lo, hi], [lo, hi], ls="--", lw=1, color=_POISSON_COLOR, label="simulated = real")
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("real gene mean (counts per cell)", fontsize=9)
    ax.set_ylabel("simulated gene mean (counts per cell)", fontsize=9)
    _legend(ax, lines, loc="upper left")
    _style(ax, "Mean per gene, gene by gene", annotation)
    return ax
