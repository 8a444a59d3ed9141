"""Realism panels of cells and molecules: per-cell and per-gene histograms, qv, control rate.

Each draws one :class:`~STpuppeteer.plotting.realism_base.RealismData` pair on an ``Axes``;
:mod:`STpuppeteer.plotting.realism` lists them in ``PANELS`` and re-exports them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.ticker import MaxNLocator

from STpuppeteer.plotting.realism_base import _MISSING_COLOR, _legend, _missing_line, _sides, _style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from STpuppeteer.plotting.realism_base import RealismData

__all__ = [
    "plot_cell_area",
    "plot_control_rate",
    "plot_genes_per_cell",
    "plot_molecules_per_um2",
    "plot_nuclear_fraction",
    "plot_nucleus_area",
    "plot_qv",
    "plot_totals_per_cell",
]


def _hist_pair(
    ax: Axes,
    sim: RealismData,
    real: RealismData,
    field: str,
    *,
    what: str,
    unit: str,
    xlabel: str,
    bins: int | np.ndarray = 40,
    integer: bool = False,
) -> None:
    """Overlaid histograms of one per-cell (or per-gene) field, each side summing to 1."""
    values = {label: getattr(st, field) for label, st, _ in _sides(sim, real)}
    present = [np.asarray(v, dtype=float) for v in values.values() if v is not None and len(v)]
    if not present:  # neither side: say so on empty axes
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel(f"fraction of {unit} (0–1)", fontsize=9)
        _legend(ax, [_missing_line(label, st, field, what) for label, st, _ in _sides(sim, real)])
        return
    if isinstance(bins, int):
        both = np.concatenate(present)
        lo = float(np.min(both))
        hi = float(max(np.percentile(v, 99.5) for v in present))
        hi = hi if hi > lo else lo + 1.0
        if integer:  # whole-number bins, so a count does not fall between two bars
            step = max(1, math.ceil((hi - lo) / bins))
            bins = np.arange(math.floor(lo), math.ceil(hi) + step + 1, step) - 0.5
        else:
            bins = np.linspace(lo, hi, bins + 1)
    lines = []
    clipped = False
    for label, st, color in _sides(sim, real):
        v = values[label]
        if v is None or not len(v):
            lines.append(_missing_line(label, st, field, what))
            continue
        v = np.asarray(v, dtype=float)
        clipped |= bool((v > bins[-1]).any())
        v = np.clip(v, bins[0], bins[-1])  # the tail beyond the 99.5th percentile goes to the last bin
        weights = np.full(len(v), 1.0 / len(v))
        ax.hist(v, bins=bins, weights=weights, histtype="stepfilled", alpha=0.25, color=color)
        ax.hist(v, bins=bins, weights=weights, histtype="step", lw=1.4, color=color,
                label=f"{label} (n={len(v):,} {unit})")
    if clipped:
        tail = f"≥ {math.ceil(bins[-1])}" if integer else f"> {bins[-1]:.3g}"
        xlabel = f"{xlabel}; last bin includes {tail}"
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(f"fraction of {unit} (0–1)", fontsize=9)
    _headroom(ax, 1.3 + 0.12 * sum(line.count("\n") + 2 for line in lines))
    _legend(ax, lines, loc="upper right")


def _headroom(ax: Axes, factor: float) -> None:
    """Raise the y limit so the legend sits above the bars, not over them."""
    ax.set_ylim(0, ax.get_ylim()[1] * factor)


# --- panels ---------------------------------------------------------------------------------------

def plot_totals_per_cell(
    sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None
) -> Axes:
    """Histograms of the counts per cell.

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
    _hist_pair(ax, sim, real, "totals_per_cell", what="cells", unit="cells", integer=True,
               xlabel="molecules per cell (counts)")
    _style(ax, "Molecules per cell", annotation)
    return ax


def plot_genes_per_cell(
    sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None
) -> Axes:
    """Histograms of the genes detected (count > 0) per cell.

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
    _hist_pair(ax, sim, real, "genes_per_cell", what="cells", unit="cells", integer=True,
               xlabel="genes detected per cell (count)")
    _style(ax, "Genes per cell", annotation)
    return ax


def plot_cell_area(sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None) -> Axes:
    """Histograms of the cell areas.

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
    _hist_pair(ax, sim, real, "cell_area", what="cell areas", unit="cells", xlabel="cell area (µm²)")
    _style(ax, "Cell area", annotation)
    return ax


def plot_nucleus_area(sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None) -> Axes:
    """Histograms of the nucleus areas.

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
    _hist_pair(ax, sim, real, "nucleus_area", what="nucleus areas", unit="cells", xlabel="nucleus area (µm²)")
    _style(ax, "Nucleus area", annotation)
    return ax


def plot_molecules_per_um2(
    sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None
) -> Axes:
    """Histograms of the counts per µm² of cell.

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
    _hist_pair(ax, sim, real, "molecules_per_um2", what="cell areas", unit="cells",
               xlabel="molecule density (molecules per µm² of cell)")
    _style(ax, "Molecule density in cells", annotation)
    return ax


def plot_nuclear_fraction(
    sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None
) -> Axes:
    """Histograms of the per-gene fraction of in-cell molecules over the nucleus.

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
    _hist_pair(ax, sim, real, "nuclear_fraction", what="nuclear fractions", unit="genes",
               bins=np.linspace(0, 1, 21), xlabel="fraction of a gene's in-cell molecules over the nucleus (0–1)")
    _style(ax, "Nuclear fraction per gene", annotation)
    return ax


def plot_qv(sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None) -> Axes:
    """Histograms of the gene molecules' qv, re-binned to whole qv units.

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
    hists = [h for _, st, _ in _sides(sim, real) if (h := st.qv_histogram) is not None and h.sum() > 0]
    lo = math.floor(min(float(h.index.min()) for h in hists)) if hists else 0
    hi = math.ceil(max(float(h.index.max()) for h in hists)) + 1 if hists else 1
    edges = np.arange(lo, hi + 1)
    lines = []
    for label, st, color in _sides(sim, real):
        h = st.qv_histogram
        if h is None or h.sum() == 0:
            lines.append(_missing_line(label, st, "qv_histogram", "qv"))
            continue
        counts, _ = np.histogram(h.index.to_numpy(dtype=float), bins=edges, weights=h.to_numpy(dtype=float))
        fraction = counts / counts.sum()
        ax.stairs(fraction, edges, fill=True, alpha=0.25, color=color)
        ax.stairs(fraction, edges, lw=1.4, color=color, label=f"{label} (n={int(h.sum()):,} molecules)")
    ax.set_xlabel("qv (Phred-scaled quality score)", fontsize=9)
    ax.set_ylabel("fraction of gene molecules (0–1)", fontsize=9)
    _legend(ax, lines, loc="upper left")
    _style(ax, "Quality scores (qv)", annotation)
    return ax


def plot_control_rate(sim: RealismData, real: RealismData, ax: Axes, *, annotation: str | None = None) -> Axes:
    """A bar per side: control molecules per mm² of region, or per cell when a side has no region area.

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
    per_area = sim.control_per_um2 is not None and real.control_per_um2 is not None
    ylabel = "control rate (molecules per mm² of region)" if per_area else "control rate (molecules per cell)"
    lines = []
    for k, (label, st, color) in enumerate(_sides(sim, real)):
        value = st.control_per_um2 * 1e6 if per_area and st.control_per_um2 is not None else st.control_per_cell
        if value is None:
            ax.text(k, 0, "n/a", ha="center", va="bottom", fontsize=8, color=_MISSING_COLOR)
            lines.append(_missing_line(label, st, "control_per_cell", "controls"))
            continue
        ax.bar(k, value, color=color, width=0.6, alpha=0.85)
        ax.text(k, value, f"{value:,.0f}" if value >= 100 else f"{value:.3g}", ha="center", va="bottom",
                fontsize=8)
    ax.set_xticks([0, 1], ["simulated", "real"], fontsize=9)
    ax.set_xlabel("dataset", fontsize=9)
    ax.set_xlim(-0.7, 1.7)
    ax.margins(y=0.15)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.yaxis.set_major_locator(MaxNLocator(5))
    if lines:
        _legend(ax, lines, loc="upper right")
    _style(ax, "Control (negative probe) rate", annotation)
    return ax
