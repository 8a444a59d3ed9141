"""Figures of a realism report: a simulation's statistics drawn over a real dataset's.

Input (layering): plotting sits below ``fit/``, so this module never imports it. Every
function reads two objects satisfying :class:`RealismData`, a :class:`~typing.Protocol` of
plain fields (numpy arrays, pandas series, floats); ``STpuppeteer.fit.compare.RealismStatistics``
is one, and anything else with those fields (a test's namespace, a loaded JSON) is another.
The distances themselves are not computed here: :func:`plot_realism` takes them as ready-made
text per panel (``annotations``).

Simulated is :data:`SIM_COLOR` and real :data:`REAL_COLOR` in every panel. A panel whose data
only one side has shows that side and says what the other lacks; a panel neither side can
draw is left out of :func:`plot_realism`'s grid (:func:`available_panels`).
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PANELS",
    "REAL_COLOR",
    "SIM_COLOR",
    "RealismData",
    "available_panels",
    "plot_cell_area",
    "plot_control_rate",
    "plot_gene_mean",
    "plot_gene_zero_fraction",
    "plot_genes_per_cell",
    "plot_mean_variance",
    "plot_molecules_per_um2",
    "plot_nuclear_fraction",
    "plot_nucleus_area",
    "plot_panel",
    "plot_qv",
    "plot_realism",
    "plot_totals_per_cell",
    "render_panels",
]

SIM_COLOR = "#dd6b20"
REAL_COLOR = "#2b6cb0"
_POISSON_COLOR = "#444444"
_MISSING_COLOR = "#777777"
_LEGEND = {"fontsize": 7, "framealpha": 0.85}
_PANEL_PAD_IN = 0.1


@runtime_checkable
class RealismData(Protocol):
    """What a realism panel reads of one side (simulated or real).

    Per-gene series are indexed by gene name; a field is ``None`` when the side lacks it,
    and ``missing[field]`` then says why. Areas in µm².
    """

    @property
    def source(self) -> str:
        """What the side was read from."""

    @property
    def n_cells(self) -> int:
        """Number of cells."""

    @property
    def gene_mean(self) -> pd.Series:
        """Mean count per cell, per gene."""

    @property
    def gene_variance(self) -> pd.Series:
        """Variance of the count per cell, per gene."""

    @property
    def gene_zero_fraction(self) -> pd.Series:
        """Fraction of cells with count 0, per gene."""

    @property
    def totals_per_cell(self) -> np.ndarray:
        """Counts per cell."""

    @property
    def genes_per_cell(self) -> np.ndarray:
        """Genes with count > 0 per cell."""

    @property
    def cell_area(self) -> np.ndarray | None:
        """Cell areas (µm²)."""

    @property
    def nucleus_area(self) -> np.ndarray | None:
        """Nucleus areas (µm²)."""

    @property
    def molecules_per_um2(self) -> np.ndarray | None:
        """Counts per µm² of cell."""

    @property
    def nuclear_fraction(self) -> pd.Series | None:
        """Fraction of a gene's in-cell molecules over the nucleus, per gene."""

    @property
    def qv_histogram(self) -> pd.Series | None:
        """Gene molecules per qv bin, indexed by the bin's left edge."""

    @property
    def control_per_um2(self) -> float | None:
        """Control molecules per µm² of region."""

    @property
    def control_per_cell(self) -> float | None:
        """Control molecules per cell."""

    @property
    def missing(self) -> Mapping[str, str]:
        """Field name → why it is ``None``."""


# --- helpers -------------------------------------------------------------------------------------

def _sides(sim: RealismData, real: RealismData) -> list[tuple[str, RealismData, str]]:
    return [("simulated", sim, SIM_COLOR), ("real", real, REAL_COLOR)]


def _style(ax: Axes, title: str, annotation: str | None) -> None:
    ax.set_title(title if not annotation else f"{title}\n{annotation}", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)


def _legend(ax: Axes, notes: list[str] | tuple[str, ...] = (), *, loc: str = "best") -> None:
    """The legend, with grey lines for what a side lacks (so no note lies over the data)."""
    handles, labels = ax.get_legend_handles_labels()
    extra = [Line2D([], [], linestyle="none") for _ in notes]
    legend = ax.legend(handles + extra, labels + [textwrap.fill(n, 46) for n in notes], loc=loc, **_LEGEND)
    for text in legend.get_texts()[len(labels):]:
        text.set_color(_MISSING_COLOR)


def _missing_line(label: str, side: RealismData, field: str, what: str) -> str:
    why = side.missing.get(field, "not available")
    return f"{label}: no {what} ({why})"


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
    ax.set_ylabel(f"fraction of {unit}", fontsize=9)
    _headroom(ax, 1.3 + 0.12 * sum(line.count("\n") + 2 for line in lines))
    _legend(ax, lines, loc="upper right")


def _headroom(ax: Axes, factor: float) -> None:
    """Raise the y limit so the legend sits above the bars, not over them."""
    ax.set_ylim(0, ax.get_ylim()[1] * factor)


def _positive(st: RealismData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = st.gene_mean.to_numpy(dtype=float)
    v = st.gene_variance.to_numpy(dtype=float)
    z = st.gene_zero_fraction.to_numpy(dtype=float)
    ok = m > 0
    return m[ok], v[ok], z[ok]


# --- panels ---------------------------------------------------------------------------------------

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
    ax.set_ylabel("fraction of cells with count 0", fontsize=9)
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
               xlabel="genes detected per cell")
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
               xlabel="molecules per µm² of cell")
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
               bins=np.linspace(0, 1, 21), xlabel="fraction of a gene's in-cell molecules over the nucleus")
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
    ax.set_xlabel("qv (quality score)", fontsize=9)
    ax.set_ylabel("fraction of gene molecules", fontsize=9)
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
    ylabel = "control molecules per mm² of region" if per_area else "control molecules per cell"
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
    ax.set_xlim(-0.7, 1.7)
    ax.margins(y=0.15)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.yaxis.set_major_locator(MaxNLocator(5))
    if lines:
        _legend(ax, lines, loc="upper right")
    _style(ax, "Control (negative probe) rate", annotation)
    return ax


#: Panel name → (drawing function, the field that must be present on a side for it to draw).
PANELS: dict[str, tuple[Callable[..., Axes], str]] = {
    "mean_variance": (plot_mean_variance, "gene_mean"),
    "gene_zero_fraction": (plot_gene_zero_fraction, "gene_zero_fraction"),
    "gene_mean": (plot_gene_mean, "gene_mean"),
    "totals_per_cell": (plot_totals_per_cell, "totals_per_cell"),
    "genes_per_cell": (plot_genes_per_cell, "genes_per_cell"),
    "molecules_per_um2": (plot_molecules_per_um2, "molecules_per_um2"),
    "cell_area": (plot_cell_area, "cell_area"),
    "nucleus_area": (plot_nucleus_area, "nucleus_area"),
    "nuclear_fraction": (plot_nuclear_fraction, "nuclear_fraction"),
    "qv": (plot_qv, "qv_histogram"),
    "control_rate": (plot_control_rate, "control_per_cell"),
}


def available_panels(sim: RealismData, real: RealismData) -> list[str]:
    """The panels of :data:`PANELS` that at least one side can draw, in order.

    ``gene_mean`` (gene by gene) needs a gene both sides share by name.

    Parameters
    ----------
    sim, real
        The two sides' statistics.

    Returns
    -------
    Panel names.
    """
    names = []
    for name, (_, field) in PANELS.items():
        if name == "gene_mean":
            if len(sim.gene_mean.index.intersection(real.gene_mean.index)):
                names.append(name)
        elif getattr(sim, field) is not None or getattr(real, field) is not None:
            names.append(name)
    return names


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else f"{text[: width // 2 - 1]}…{text[-(width // 2):]}"


def plot_panel(
    name: str, sim: RealismData, real: RealismData, *, annotation: str | None = None,
    figsize: tuple[float, float] = (5.0, 4.0),
) -> Figure:
    """One panel of :data:`PANELS` as a figure of its own.

    Parameters
    ----------
    name
        The panel.
    sim, real
        The two sides' statistics.
    annotation
        A second title line, e.g. the distance.
    figsize
        Figure size (inches).

    Returns
    -------
    The figure.
    """
    if name not in PANELS:
        msg = f"unknown realism panel {name!r}; the panels are {list(PANELS)}."
        raise ValueError(msg)
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    PANELS[name][0](sim, real, ax, annotation=annotation)
    return fig


def plot_realism(
    sim: RealismData,
    real: RealismData,
    *,
    annotations: Mapping[str, str] | None = None,
    ncols: int = 4,
) -> Figure:
    """Every panel either side can draw, simulated over real, in a grid.

    Parameters
    ----------
    sim, real
        The two sides' statistics (e.g. ``STpuppeteer.fit.compare.realism_statistics`` of each).
    annotations
        Text per panel name (the distance, e.g. ``"KS D = 0.12"``), drawn under its title.
    ncols
        Panels per row.

    Returns
    -------
    The figure; its suptitle names the two sources, each axes' label its panel name.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from types import SimpleNamespace
    >>> genes = pd.Index(["a", "b", "c"])
    >>> side = SimpleNamespace(
    ...     source="toy", n_cells=3, gene_mean=pd.Series([0.5, 2.0, 4.0], index=genes),
    ...     gene_variance=pd.Series([0.6, 3.0, 9.0], index=genes),
    ...     gene_zero_fraction=pd.Series([0.6, 0.2, 0.0], index=genes),
    ...     totals_per_cell=np.array([5, 7, 8]), genes_per_cell=np.array([2, 3, 3]), cell_area=None,
    ...     nucleus_area=None, molecules_per_um2=None, nuclear_fraction=None, qv_histogram=None,
    ...     control_per_um2=None, control_per_cell=None, missing={})
    >>> available_panels(side, side)
    ['mean_variance', 'gene_zero_fraction', 'gene_mean', 'totals_per_cell', 'genes_per_cell']
    >>> len(plot_realism(side, side).axes)
    5
    """
    names = available_panels(sim, real)
    annotations = annotations or {}
    ncols = max(1, min(ncols, len(names)))
    nrows = math.ceil(len(names) / ncols)
    fig, axs = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.9 * nrows + 0.5), layout="constrained",
                            squeeze=False)
    # Room between panels, so that each panel's own box (title, labels, legend) can be cut out alone.
    fig.get_layout_engine().set(w_pad=_PANEL_PAD_IN, h_pad=_PANEL_PAD_IN)
    for name, ax in zip(names, axs.flat, strict=False):
        PANELS[name][0](sim, real, ax, annotation=annotations.get(name))
        ax.set_label(name)
    for ax in axs.flat[len(names):]:
        ax.remove()
    fig.suptitle(f"Realism: simulated ({_short(sim.source)}, {sim.n_cells:,} cells) "
                 f"vs real ({_short(real.source)}, {real.n_cells:,} cells)", fontsize=12)
    return fig


def render_panels(fig: Figure, *, dpi: float = 110.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Draw a :func:`plot_realism` figure once, and cut out each panel with its title, labels and legend.

    One drawing gives the grid and every panel, in the same pixels (drawing each panel as a
    figure of its own costs a layout and a drawing per panel).

    Parameters
    ----------
    fig
        A figure from :func:`plot_realism`.
    dpi
        Resolution of the drawing.

    Returns
    -------
    The whole figure as an RGBA array (rows top to bottom), and panel name → its RGBA cut-out.
    """
    fig.set_dpi(dpi)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba()).copy()
    height, width = image.shape[:2]
    renderer = fig.canvas.get_renderer()
    pad = max(1, int(0.3 * _PANEL_PAD_IN * dpi))
    panels = {}
    for ax in fig.axes:
        name = ax.get_label()
        if name not in PANELS:
            continue
        box = ax.get_tightbbox(renderer)
        x0, x1 = max(0, math.floor(box.x0) - pad), min(width, math.ceil(box.x1) + pad)
        y0, y1 = max(0, height - math.ceil(box.y1) - pad), min(height, height - math.floor(box.y0) + pad)
        panels[name] = image[y0:y1, x0:x1].copy()
    return image, panels
