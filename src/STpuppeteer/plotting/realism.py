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

The panels are drawn in :mod:`STpuppeteer.plotting.realism_gene_panels` and
:mod:`STpuppeteer.plotting.realism_cell_panels`, on what :mod:`STpuppeteer.plotting.realism_base`
holds (the Protocol, the colours); this module re-exports their names.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from STpuppeteer.plotting.realism_base import REAL_COLOR, SIM_COLOR, RealismData
from STpuppeteer.plotting.realism_cell_panels import (
    plot_cell_area,
    plot_control_rate,
    plot_genes_per_cell,
    plot_molecules_per_um2,
    plot_nuclear_fraction,
    plot_nucleus_area,
    plot_qv,
    plot_totals_per_cell,
)
from STpuppeteer.plotting.realism_gene_panels import plot_gene_mean, plot_gene_zero_fraction, plot_mean_variance

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

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

_PANEL_PAD_IN = 0.1


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
