"""The pictures a user looks at before trusting a simulated dataset: overview and QC."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle
from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter
from shapely import box

from STpuppeteer.plotting.contrast import (
    BOX_COLOR,
    DARK_PANEL_COLOR,
    DARK_PANEL_OUTLINE_COLOR,
    halo,
)
from STpuppeteer.plotting.palette import celltype_palette
from STpuppeteer.plotting.tissue import cell_rings, plot_tissue
from STpuppeteer.stages.genes import marker_celltypes
from STpuppeteer.summary import molecules_per_landed_cell

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure

    from STpuppeteer.result import SimulationResult

__all__ = ["ORIGIN_COLORS", "default_genes", "plot_overview", "plot_qc"]

ORIGIN_COLORS = {"cell": "#2b6cb0", "leaked": "#e53e3e", "ambient": "#805ad5", "control": "#718096"}


def default_genes(result: SimulationResult, *, per_celltype: int = 1) -> list[str]:
    """The most expressed marker(s) of each cell type: genes whose molecules show the types apart.

    Prior model: the type's own markers; program and table models: the genes marking the type
    (:func:`~STpuppeteer.stages.genes.marker_celltypes`), the ones marking it alone first.
    """
    gpar_df = result.gpar_df
    genes: list[str] = []
    if result.config.expression_model != "priors":
        markers = marker_celltypes(gpar_df)
        for ct in result.config.celltype_names:
            own = gpar_df[gpar_df["feature_name"].isin([g for g, types in markers.items() if ct in types])]
            alone = own["feature_name"].map(lambda g: len(markers[g]) == 1)
            ranked = own.assign(alone=alone).sort_values(["alone", f"{ct}_mu"], ascending=False)
            genes += [g for g in ranked["feature_name"] if g not in genes][:per_celltype]
        return genes
    for ct in result.config.celltype_names:
        own = gpar_df[gpar_df["gene_type"] == f"{ct}_mkr"]
        genes += list(own.nlargest(per_celltype, f"{ct}_mu")["feature_name"])
    return genes


def _zoom_box(result: SimulationResult, size_um: float) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = result.cell_gdf.total_bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = min(size_um, x1 - x0, y1 - y0) / 2
    return cx - half, cy - half, cx + half, cy + half


def plot_overview(
    result: SimulationResult,
    *,
    genes: Sequence[str] | None = None,
    zoom_um: float = 120.0,
    max_points: int = 400_000,
    rng: np.random.Generator | int | None = 0,
) -> Figure:
    """Tissue by cell type, molecules of chosen genes, and a zoomed inset with every molecule.

    Parameters
    ----------
    result
        A finished simulation.
    genes
        Genes whose molecules are drawn (default: the top marker of each cell type).
    zoom_um
        Side of the zoomed square, centred in the tissue.
    max_points
        Molecules drawn at most in the gene panel (a random subset beyond it).
    rng
        Generator (or seed) for that subset; drawing never touches the simulation's streams.

    Returns
    -------
    A figure with three panels.
    """
    rng = np.random.default_rng(rng)
    genes = list(genes) if genes is not None else default_genes(result)
    palette = celltype_palette(result.config.celltype_names)
    trs_df = result.trs_df
    fig, (ax_t, ax_g, ax_z) = plt.subplots(1, 3, figsize=(18, 6.2))

    plot_tissue(result.cell_gdf, ax=ax_t, palette=palette, legend=False,
                title=f"{len(result.cell_gdf):,} cells by type")
    bounds = _zoom_box(result, zoom_um)
    for ax in (ax_t, ax_g):
        # White inside a black halo: seen on the dark marker panel and on the pale tissue alike.
        ax.add_patch(Rectangle(bounds[:2], bounds[2] - bounds[0], bounds[3] - bounds[1], fill=False,
                               ec=BOX_COLOR, lw=1.3, path_effects=halo(), label="zoom window", zorder=5))

    ax_g.set_facecolor(DARK_PANEL_COLOR)
    ax_g.add_collection(PolyCollection(cell_rings(result.cell_gdf.geometry.to_numpy()), facecolors="none",
                                       edgecolors=DARK_PANEL_OUTLINE_COLOR, linewidths=0.3, rasterized=True,
                                       label="cell outlines"))
    # A marker of one cell type takes that type's colour, so the two left panels read together.
    owner = marker_celltypes(result.gpar_df)
    fallback = plt.get_cmap("tab10")
    for i, gene in enumerate(genes):
        types = owner.get(gene, [])
        color = palette[types[0]] if len(types) == 1 else fallback(i % 10)
        sel = np.flatnonzero(trs_df["feature_name"].to_numpy() == gene)
        if len(sel) > max_points // max(len(genes), 1):
            sel = rng.choice(sel, max_points // len(genes), replace=False)
        who = f" ({types[0]})" if len(types) == 1 else ""
        ax_g.scatter(trs_df["x"].to_numpy()[sel], trs_df["y"].to_numpy()[sel], s=0.6, color=color,
                     label=f"{gene}{who}", rasterized=True, linewidths=0)
    x0, y0, x1, y1 = result.cell_gdf.total_bounds
    pad = 0.01 * max(x1 - x0, y1 - y0)
    ax_g.set_xlim(x0 - pad, x1 + pad)
    ax_g.set_ylim(y0 - pad, y1 + pad)
    ax_g.set_aspect("equal")
    ax_g.legend(markerscale=12, fontsize=8, loc="upper right", framealpha=0.85, title="marker gene (type)",
                title_fontsize=8)
    ax_g.set_title("molecules of each type's top marker gene")

    window = box(*bounds)
    near = result.cell_gdf[result.cell_gdf.geometry.intersects(window)]
    plot_tissue(near, ax=ax_z, alpha=0.35, scale_bar_um=20, palette=palette, legend=False)
    # Confluent cells share their edges: the faint fill alone does not show where one ends.
    ax_z.add_collection(PolyCollection(cell_rings(near.geometry.to_numpy()), facecolors="none", edgecolors="0.2",
                                       linewidths=0.8, zorder=2))
    x, y = trs_df["x"].to_numpy(), trs_df["y"].to_numpy()
    inside = (x >= bounds[0]) & (x <= bounds[2]) & (y >= bounds[1]) & (y <= bounds[3])
    origin = trs_df["origin"].to_numpy()
    for name, color in ORIGIN_COLORS.items():
        sel = inside & (origin == name)
        ax_z.scatter(x[sel], y[sel], s=3, color=color, label=f"{name} ({sel.sum():,})", linewidths=0)
    ax_z.set_xlim(bounds[0], bounds[2])
    ax_z.set_ylim(bounds[1], bounds[3])
    ax_z.legend(fontsize=8, loc="upper right", framealpha=0.85, title="molecule origin", title_fontsize=8,
                markerscale=3)
    ax_z.set_title(f"zoom: {bounds[2] - bounds[0]:.0f} µm square, every molecule")
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in palette.values()]
    ax_t.legend(handles, list(palette), fontsize=8, loc="upper right", framealpha=0.85, title="cell type",
                title_fontsize=8)
    for ax in (ax_t, ax_g, ax_z):
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
    fig.tight_layout()
    return fig


def plot_qc(result: SimulationResult) -> Figure:
    """QC panels: molecules per cell, per gene, by origin, and cell / nucleus areas.

    Parameters
    ----------
    result
        A finished simulation.

    Returns
    -------
    A figure with four panels.
    """
    trs_df = result.trs_df
    cell_gdf = result.cell_gdf
    origin = trs_df["origin"].to_numpy()
    gene_rows = origin != "control"
    per_cell = molecules_per_landed_cell(result)
    true_per_cell = result.count_array.sum(axis=1)
    fig, axs = plt.subplots(1, 4, figsize=(18, 3.8))

    bins = np.linspace(0, max(np.percentile(true_per_cell, 99.5), per_cell.max(), 1), 50)
    axs[0].hist(true_per_cell, bins=bins, alpha=0.6, label="true counts (source cell)")
    axs[0].hist(per_cell, bins=bins, alpha=0.6, label="detected, by landed cell")
    axs[0].axvline(np.median(per_cell), color="black", ls="--", lw=1, label=f"median {np.median(per_cell):.0f}")
    axs[0].set_xlabel("molecules per cell (count)")
    axs[0].set_ylabel("cells (count)")
    axs[0].set_title("molecules per cell")
    axs[0].legend(fontsize=8)

    per_gene = trs_df.loc[gene_rows, "feature_name"].value_counts()
    is_marker = per_gene.index.isin(list(marker_celltypes(result.gpar_df)))
    # Bins from the rarest detected gene: a gene with no molecule (a categorical's empty level)
    # has no place on a log axis and would only stretch it down to 1.
    detected = per_gene[per_gene > 0]
    lowest = detected.min() if len(detected) else 1
    logbins = np.logspace(np.log10(max(lowest, 1)), np.log10(max(per_gene.max(), 10)), 40)
    axs[1].hist(per_gene[is_marker], bins=logbins, alpha=0.6, label="markers")
    axs[1].hist(per_gene[~is_marker], bins=logbins, alpha=0.6, label="other genes")
    axs[1].set_xscale("log")
    # Ticks at 1, 2, 5 per decade written out (200, 500, 1,000): a span under a decade or two
    # otherwise gets one labelled tick, or minor labels that overprint.
    axs[1].xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axs[1].xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axs[1].xaxis.set_minor_formatter(NullFormatter())
    axs[1].set_xlabel("molecules per gene (count, log scale)")
    axs[1].set_ylabel("genes (count)")
    axs[1].set_title("molecules per gene")
    axs[1].legend(fontsize=8)

    names, counts = np.unique(origin, return_counts=True)
    order = [n for n in ORIGIN_COLORS if n in names]
    values = [counts[list(names).index(n)] for n in order]
    axs[2].bar(order, values, color=[ORIGIN_COLORS[n] for n in order])
    for i, v in enumerate(values):
        axs[2].text(i, v, f"{100 * v / max(len(origin), 1):.1f}%", ha="center", va="bottom", fontsize=8)
    axs[2].set_xlabel("true origin of the molecule")
    axs[2].set_ylabel("molecules (count)")
    axs[2].set_title("molecules by origin")

    axs[3].hist(cell_gdf["cell_area"], bins=50, alpha=0.6, label="cell")
    axs[3].hist(cell_gdf["nucleus_area"], bins=50, alpha=0.6, label="nucleus")
    axs[3].set_xlabel("area (µm²)")
    axs[3].set_ylabel("cells (count)")
    axs[3].set_title("cell and nucleus areas")
    axs[3].legend(fontsize=8)
    for ax in axs:
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
