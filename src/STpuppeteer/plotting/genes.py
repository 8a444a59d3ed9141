"""Figures of stage 1: the Gamma priors and the gene parameter table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from STpuppeteer.plotting.palette import celltype_palette
from STpuppeteer.stages.priors import (
    get_hk_gamma_prior,
    get_marker_gamma_prior,
    get_silence_gamma_prior,
    get_theta_gamma_prior,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from STpuppeteer.config import SimulationConfig

__all__ = ["gene_class", "plot_gene_parameters", "plot_priors"]

HK_COLOR = "#aaaaaa"
SILENCE_COLOR = "#555555"
HK_PRIOR_COLOR = "#FF9F30"
# μ is a cell type's mean count per cell before the cell's size factor and expression_scale.
MU_LABEL = "μ (mean counts per cell, unscaled)"


def gene_class(gene_type: str) -> str:
    """Readable class of a ``gene_type``: ``'ct_0 marker'``, ``'ct_0+ct_1 marker'``, ``'housekeeping'``, ``'silent'``.

    Parameters
    ----------
    gene_type
        A value of ``gpar_df["gene_type"]``.
    """
    if gene_type.endswith("_mkr"):
        parts = gene_type.removesuffix("_mkr").split("_")
        return "+".join(f"ct_{p}" for p in parts if p != "ct") + " marker"
    return "silent" if gene_type == "silence" else "housekeeping"


def plot_priors(config: SimulationConfig, *, n: int = 50_000, rng: np.random.Generator | int | None = None) -> Figure:
    """Histograms of the μ priors (marker, housekeeping, silence) and of the θ prior.

    Parameters
    ----------
    config
        The config whose global priors are drawn.
    n
        Number of draws per prior.
    rng
        Generator (or seed) for the draws; the figure does not touch the simulation's streams.

    Returns
    -------
    The figure, with two axes.
    """
    rng = np.random.default_rng(rng)
    fig, (ax_mu, ax_theta) = plt.subplots(1, 2, figsize=(9, 3.6))
    priors = [
        ("marker", get_marker_gamma_prior(config.marker_mu, config.marker_cv), config.marker_mu,
         config.marker_cv, celltype_palette(1)["ct_0"]),
        ("housekeeping", get_hk_gamma_prior(config.hk_mu, config.hk_cv), config.hk_mu, config.hk_cv,
         HK_PRIOR_COLOR),
        ("silence", get_silence_gamma_prior(config.silence_mu, config.silence_cv), config.silence_mu,
         config.silence_cv, "#999999"),
    ]
    for label, prior, mu, cv, color in priors:
        ax_mu.hist(prior.rvs(n, random_state=rng), bins=60, density=True, alpha=0.7, color=color,
                   label=f"{label} μ (mean={mu:g}, CV={cv:g})")
    ax_mu.set_xlabel(MU_LABEL)
    ax_mu.set_ylabel("probability density (per unit μ)")
    ax_mu.set_title("Prior on mean expression μ")
    ax_mu.legend(fontsize=8)
    theta_prior = get_theta_gamma_prior(alpha=config.theta_alpha, rate=config.theta_rate)
    ax_theta.hist(theta_prior.rvs(n, random_state=rng), bins=60, density=True, alpha=0.8, color="#ae3918")
    ax_theta.set_xlabel("θ (NB dispersion, dimensionless)")
    ax_theta.set_ylabel("probability density (per unit θ)")
    ax_theta.set_title(f"Prior on NB dispersion θ (α={config.theta_alpha:g}, rate={config.theta_rate:g})")
    for ax in (ax_mu, ax_theta):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_gene_parameters(gpar_df: pd.DataFrame, *, max_boxplots: int = 3) -> Figure:
    """Heatmap of μ (cell types × genes) with a gene-class strip, and μ by gene class per cell type.

    Parameters
    ----------
    gpar_df
        The gene parameter table.
    max_boxplots
        Number of cell types to show as box plots of μ by gene class.

    Returns
    -------
    The figure.
    """
    mu_cols = [c for c in gpar_df.columns if c.endswith("_mu")]
    celltypes = [c.removesuffix("_mu") for c in mu_cols]
    palette = celltype_palette(len(celltypes))
    classes = np.array([gene_class(t) for t in gpar_df["gene_type"]])
    class_order = list(dict.fromkeys(classes))
    class_colors = {
        c: palette.get(c.removesuffix(" marker"), "#7a5195") if c.endswith("marker")
        else (HK_COLOR if c == "housekeeping" else SILENCE_COLOR)
        for c in class_order
    }
    mu = gpar_df[mu_cols].to_numpy()
    n_box = min(max_boxplots, len(celltypes))
    fig = plt.figure(figsize=(6.5 + 3.6 * n_box, 5.2))
    # An empty third column keeps the colour bar's ticks and label off the first box plot's label.
    grid = fig.add_gridspec(1, 3 + n_box, width_ratios=[2.2, 0.08, 0.3] + [1] * n_box, wspace=0.45)
    ax_map = fig.add_subplot(grid[0, 0])
    image = ax_map.imshow(mu.T, aspect="auto", cmap="YlOrRd", interpolation="nearest")
    ax_map.set_yticks(range(len(celltypes)), celltypes)
    ax_map.set_xticks([])
    ax_map.set_ylabel("cell type")
    ax_map.set_title("Mean expression μ (cell types × genes)")
    fig.colorbar(image, cax=fig.add_subplot(grid[0, 1]), label=MU_LABEL)
    # The class strip is the heatmap's footer, not a panel of its own: a child of its axes.
    ax_strip = ax_map.inset_axes((0.0, -0.085, 1.0, 0.07), sharex=ax_map)
    codes = np.array([class_order.index(c) for c in classes])[None, :]
    ax_strip.imshow(codes, aspect="auto", interpolation="nearest",
                    cmap=ListedColormap([class_colors[c] for c in class_order]))
    ax_strip.set_yticks([0], ["gene class"], fontsize=8)
    ax_strip.set_xlabel(f"← {len(classes):,} genes, coloured by class as in the box plots →")
    for k in range(n_box):
        ax = fig.add_subplot(grid[0, 3 + k])
        data = [gpar_df.loc[classes == c, mu_cols[k]].to_numpy() for c in class_order]
        boxes = ax.boxplot(data, patch_artist=True, widths=0.5, flierprops={"marker": ".", "markersize": 3})
        for patch, c in zip(boxes["boxes"], class_order, strict=True):
            patch.set_facecolor(class_colors[c])
        ax.set_xticks(range(1, len(class_order) + 1), class_order, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"μ in {celltypes[k]}")
        ax.set_xlabel("gene class")
        ax.set_ylabel(MU_LABEL)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("Gene parameters — markers express only in their own cell type(s)")
    fig.subplots_adjust(bottom=0.22)
    return fig
