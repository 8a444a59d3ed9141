"""The localisation patterns in a zoom: one cell per pattern, its molecules of that pattern's genes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import shapely

from STpuppeteer.config.localisation import PATTERNS
from STpuppeteer.stages.transcripts.localisation import PREFERENCE_COLUMN, STRENGTH_COLUMN

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from STpuppeteer.result import SimulationResult

__all__ = ["plot_localisation"]

_COLOURS = dict(zip(PATTERNS, ("#7f7f7f", "#1f77b4", "#9467bd", "#2ca02c", "#d62728", "#ff7f0e", "#8c564b"),
                    strict=True))


def plot_localisation(result: SimulationResult, *, panel_inches: float = 2.6) -> Figure:
    """One panel per pattern in ``gpar_df``: the cell with most molecules of that pattern's genes.

    Each panel draws the cell and nucleus outlines and the in-cell molecules of every gene with
    the pattern (recorded positions: with the instrument's jitter), titled with the pattern, its
    strength and the genes' share of the panel.

    Parameters
    ----------
    result
        A simulation whose ``gpar_df`` has ``compartment_preference`` (anything localised).
    panel_inches
        Width and height of one panel.

    Returns
    -------
    The figure.
    """
    gpar = result.gpar_df
    if PREFERENCE_COLUMN not in gpar.columns:
        msg = "gpar_df has no compartment_preference: nothing is localised (transcripts.localisation)."
        raise ValueError(msg)
    present = [p for p in PATTERNS if (gpar[PREFERENCE_COLUMN] == p).any()]
    trs = result.trs_df
    own = trs[trs["origin"] == "cell"]
    gene_pattern = dict(zip(gpar["feature_name"], gpar[PREFERENCE_COLUMN], strict=True))
    mol_pattern = own["true_feature_name"].astype(str).map(gene_pattern).to_numpy()
    cells = result.cell_gdf
    rows = {cid: k for k, cid in enumerate(cells["cell_id"])}
    fig, axes = plt.subplots(1, len(present), figsize=(panel_inches * len(present), panel_inches + 0.4),
                             squeeze=False)
    for ax, pattern in zip(axes[0], present, strict=True):
        mine = own[mol_pattern == pattern]
        cell_id = mine["cell_id"].value_counts().index[0]
        pts = mine[mine["cell_id"] == cell_id]
        row = rows[cell_id]
        for geom, width in ((cells.geometry.values[row], 1.2), (cells["nucleus"].values[row], 0.9)):
            xy = shapely.get_coordinates(shapely.get_exterior_ring(geom))
            ax.plot(xy[:, 0], xy[:, 1], color="black", lw=width)
        ax.scatter(pts["x"], pts["y"], s=6, color=_COLOURS[pattern], linewidths=0)
        genes = gpar[PREFERENCE_COLUMN] == pattern
        strength = float(np.median(gpar.loc[genes, STRENGTH_COLUMN]))
        label = f"{pattern}\n{genes.mean():.0%} of genes" + ("" if pattern == "uniform" else f", s = {strength:g}")
        ax.set_title(label, fontsize=9)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Localisation patterns: one cell each, molecules of that pattern's genes", fontsize=10)
    fig.tight_layout()
    return fig
