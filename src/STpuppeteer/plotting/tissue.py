"""The tissue picture: cells coloured by type, nuclei outlined, a scale bar in µm."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import shapely
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from STpuppeteer.plotting.palette import celltype_palette

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes

__all__ = ["cell_rings", "plot_tissue"]


def cell_rings(polygons: np.ndarray) -> list[np.ndarray]:
    """Polygon exteriors as one ``(k, 2)`` array each, ready for a ``PolyCollection``.

    Views into one coordinate array: building a collection this way is fast where one patch
    per cell is not.

    Parameters
    ----------
    polygons
        Shapely polygons (``cell_gdf.geometry.to_numpy()``, ``cell_gdf["nucleus"].to_numpy()``).

    Returns
    -------
    One array of exterior coordinates (µm) per polygon.
    """
    exteriors = shapely.get_exterior_ring(polygons)
    coords, index = shapely.get_coordinates(exteriors, return_index=True)
    counts = np.bincount(index, minlength=len(polygons))
    return np.split(coords, np.cumsum(counts)[:-1])


def _nice_length(span: float) -> float:
    raw = span / 5.0
    power = 10.0 ** math.floor(math.log10(raw))
    return max(m * power for m in (1, 2, 5) if m * power <= raw)


def _palette_for(names: np.ndarray) -> dict[str, str]:
    unique = sorted(set(map(str, names)))
    indices = [int(m.group(1)) for name in unique if (m := re.fullmatch(r"ct_(\d+)", name))]
    if len(indices) < len(unique):  # named cell types: colours in sorted order
        return celltype_palette(unique)
    return celltype_palette(max(indices, default=-1) + 1)


def plot_tissue(
    cell_gdf: gpd.GeoDataFrame,
    *,
    ax: Axes | None = None,
    palette: dict[str, str] | None = None,
    show_nuclei: bool = True,
    alpha: float = 0.85,
    scale_bar_um: float | None = None,
    legend: bool = True,
    rasterize_above: int = 5_000,
    title: str | None = None,
) -> Axes:
    """Draw cells coloured by type with their nuclei outlined and a µm scale bar.

    Parameters
    ----------
    cell_gdf
        Cells as made by :func:`STpuppeteer.stages.tissue.generate_cells` (``celltype``, cell
        polygons as geometry, ``nucleus``); any subset of rows works.
    ax
        Axes to draw on; a new figure when ``None``.
    palette
        Colour per cell type; default the package's cell-type palette.
    show_nuclei
        Outline the nuclei (drawn filled and darker above 20,000 cells, where outlines
        would be thinner than a pixel).
    alpha
        Opacity of the cell fill.
    scale_bar_um
        Length of the scale bar; default a round number near a fifth of the width.
    legend
        Add a legend of cell types.
    rasterize_above
        Above this many cells the polygons are rasterised in vector outputs (PDF/SVG), so
        the files stay small and fast to open.
    title
        The panel's title; default ``"<n> cells by type"``.

    Returns
    -------
    The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from STpuppeteer.config import SimulationConfig
    >>> from STpuppeteer.stages.tissue import generate_cells
    >>> cell_gdf = generate_cells(SimulationConfig(n_cells=200), np.random.default_rng(0))
    >>> ax = plot_tissue(cell_gdf)
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 7))
    names = cell_gdf["celltype"].astype(str).to_numpy()
    palette = palette if palette is not None else _palette_for(names)
    many = len(cell_gdf) > rasterize_above
    colors = [palette.get(name, "#999999") for name in names]
    thin = 0.1 if len(cell_gdf) > 20_000 else 0.3
    cells = PolyCollection(
        cell_rings(cell_gdf.geometry.to_numpy()),
        facecolors=colors,
        edgecolors="white",
        linewidths=thin,
        alpha=alpha,
        rasterized=many,
    )
    ax.add_collection(cells)
    if show_nuclei and len(cell_gdf):
        nuclei = cell_rings(cell_gdf["nucleus"].to_numpy())
        if len(cell_gdf) > 20_000:
            style = {"facecolors": "#222222", "edgecolors": "none", "alpha": 0.5}
        else:
            style = {"facecolors": "none", "edgecolors": "#222222", "linewidths": 0.5}
        ax.add_collection(PolyCollection(nuclei, rasterized=many, **style))
    if len(cell_gdf):
        x0, y0, x1, y1 = cell_gdf.total_bounds
        pad = 0.01 * max(x1 - x0, y1 - y0)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
        length = scale_bar_um if scale_bar_um is not None else _nice_length(x1 - x0)
        bar = AnchoredSizeBar(
            ax.transData,
            length,
            f"{length:g} µm",
            loc="lower left",
            frameon=True,
            size_vertical=max(length / 25.0, 1e-9),
            pad=0.3,
            borderpad=0.5,
        )
        bar.patch.set_alpha(0.7)
        ax.add_artist(bar)
    ax.set_aspect("equal")
    ax.set_title(title if title is not None else f"{len(cell_gdf):,} cells by type")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    if legend:
        present = [name for name in palette if name in set(names)]
        handles = [Rectangle((0, 0), 1, 1, color=palette[name]) for name in present]
        ax.legend(handles, present, fontsize=8, loc="upper right", framealpha=0.85, title="cell type")
    return ax
