"""Figures of a simulation: tissue, overview and QC panels, gene priors, localisation, realism (``stp.pl``)."""

from __future__ import annotations

from STpuppeteer.plotting.genes import plot_gene_parameters, plot_priors
from STpuppeteer.plotting.localisation import plot_localisation
from STpuppeteer.plotting.overview import plot_overview, plot_qc
from STpuppeteer.plotting.palette import celltype_palette
from STpuppeteer.plotting.realism import plot_realism
from STpuppeteer.plotting.tissue import plot_tissue

__all__ = [
    "celltype_palette", "plot_gene_parameters", "plot_localisation",
    "plot_overview", "plot_priors", "plot_qc", "plot_realism",
    "plot_tissue",
]
