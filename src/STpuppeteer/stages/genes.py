"""Stage 1: the gene panel and its parameters (μ, θ per gene per cell type).

Panel order: markers of ``ct_0`` (``ct_0_mkr_0`` …), markers of ``ct_1`` …, then shared
marker blocks (``ct_0_ct_1_mkr_0`` …), then housekeeping genes ``hk_0`` … (gene_type
``hk``) filling the panel, then silent genes ``silence_0`` … (gene_type ``silence``).
With a ``gene_table`` the panel, μ and θ are the table's (:func:`table_gene_parameters`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from STpuppeteer.config._base import MIN_THETA
from STpuppeteer.config.panel import gene_layout, gene_leakage
from STpuppeteer.stages.priors import GammaPrior
from STpuppeteer.stages.programs import PROGRAM_BASELINE, build_program_gpar_df, program_markers
from STpuppeteer.stages.transcripts.localisation import localisation_columns

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

__all__ = ["MIN_THETA", "celltypes_of", "generate_gene_parameters", "marker_celltypes", "table_gene_parameters"]



def marker_celltypes(gpar_df: pd.DataFrame) -> dict[str, list[str]]:
    """Map each marker gene of ``gpar_df`` to the cell types it marks.

    Prior model: the genes of gene_type ``ct_{k}_mkr`` (and shared ``ct_{a}_ct_{b}_mkr``),
    k naming the k-th cell type of the ``{type}_mu`` columns. Program model (a table with
    ``expression_baseline``): see :func:`~STpuppeteer.stages.programs.program_markers`.

    Parameters
    ----------
    gpar_df
        A gene parameter table from :func:`generate_gene_parameters`.

    Returns
    -------
    ``{feature_name: [cell type, ...]}`` for every marker gene (own or shared).
    """
    if PROGRAM_BASELINE in gpar_df.columns:
        return program_markers(gpar_df)
    names = celltypes_of(gpar_df)
    out: dict[str, list[str]] = {}
    for name, gtype in zip(gpar_df["feature_name"], gpar_df["gene_type"], strict=True):
        if gtype.endswith("_mkr"):
            parts = gtype.removesuffix("_mkr").split("_")
            out[name] = [names[int(p)] if int(p) < len(names) else f"ct_{p}" for p in parts if p != "ct"]
    return out


def celltypes_of(gpar_df: pd.DataFrame) -> list[str]:
    """The cell types of a gene parameter table, in order: the ``{type}_mu`` columns."""
    return [c.removesuffix("_mu") for c in gpar_df.columns if c.endswith("_mu")]


def generate_gene_parameters(config: SimulationConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Draw μ and θ for every gene and cell type from the config's Gamma priors.

    With the program model the table is :func:`~STpuppeteer.stages.programs.build_program_gpar_df`
    instead, with a ``gene_table`` :func:`table_gene_parameters` (no draws: ``rng`` is not used).

    For each cell type k in order: θ of all genes from the θ prior, μ of all genes from
    the silence prior, μ of the housekeeping genes from the hk prior, μ of k's markers
    (own, then shared blocks) from the marker prior. This order reproduces the original
    tutorial's table draw for draw; per-cell-type prior overrides change distributions,
    not draws. With ``shared_theta`` one θ per gene is drawn first and used for all types.
    θ below :data:`MIN_THETA` is raised to it.

    Parameters
    ----------
    config
        The simulation config.
    rng
        The generator to draw from (``np.random.default_rng(config.seed)`` in the facade).

    Returns
    -------
    ``gpar_df`` with columns ``feature_name``, ``gene_type``, ``ct_{k}_theta``,
    ``ct_{k}_mu`` for each cell type, ``gene_leakage``.
    """
    if config.expression_model == "programs":
        return build_program_gpar_df(config)
    if config.expression_model == "table":
        return table_gene_parameters(config)
    layout = gene_layout(config)
    n_genes = len(layout.feature_name)
    hk_index = layout.hk_index
    theta = np.empty((n_genes, config.n_celltype))
    mu = np.empty((n_genes, config.n_celltype))
    # The priors of stages/priors.py (get_theta_gamma_prior, get_silence_gamma_prior, ...) as
    # shape and scale: the same draws without freezing a scipy distribution each.
    if config.shared_theta:
        shared = GammaPrior.from_alpha_rate(config.theta_alpha, config.theta_rate)
        theta[:] = shared.rvs(n_genes, random_state=rng)[:, None]
    for k, ct in enumerate(config.celltype_names):
        over = config.celltype_priors.get(ct)
        par = {f: getattr(config, f) if over is None or getattr(over, f) is None else getattr(over, f)
               for f in ("marker_mu", "marker_cv", "silence_mu", "silence_cv", "hk_mu", "hk_cv",
                         "theta_alpha", "theta_rate")}
        if not config.shared_theta:
            theta_prior = GammaPrior.from_alpha_rate(par["theta_alpha"], par["theta_rate"])
            theta[:, k] = theta_prior.rvs(n_genes, random_state=rng)
        mu[:, k] = GammaPrior.from_mean_cv(par["silence_mu"], par["silence_cv"]).rvs(n_genes, random_state=rng)
        mu[hk_index, k] = GammaPrior.from_mean_cv(par["hk_mu"], par["hk_cv"]).rvs(len(hk_index), random_state=rng)
        marker_prior = GammaPrior.from_mean_cv(par["marker_mu"], par["marker_cv"])
        own = np.flatnonzero(layout.gene_type == f"ct_{k}_mkr")
        mu[own, k] = marker_prior.rvs(len(own), random_state=rng)
        shared_idx = np.setdiff1d(layout.marker_index(k), own)
        if len(shared_idx):
            mu[shared_idx, k] = marker_prior.rvs(len(shared_idx), random_state=rng)

    np.maximum(theta, MIN_THETA, out=theta)
    columns: dict[str, np.ndarray] = {"feature_name": layout.feature_name, "gene_type": layout.gene_type}
    for k, ct in enumerate(config.celltype_names):
        columns[f"{ct}_theta"] = theta[:, k]
        columns[f"{ct}_mu"] = mu[:, k]
    columns["gene_leakage"] = gene_leakage(config, layout.feature_name)
    columns.update(localisation_columns(config, layout.feature_name))
    return pd.DataFrame(columns)


def table_gene_parameters(config: SimulationConfig) -> pd.DataFrame:
    """``gpar_df`` of a config with a ``gene_table``: the table as given, nothing drawn.

    Same columns as the prior model's (``feature_name``, ``gene_type``, ``{type}_theta`` and
    ``{type}_mu`` per cell type, ``gene_leakage``), so stage 3 draws counts from it unchanged.
    ``gene_type`` is :meth:`~STpuppeteer.config.gene_table.GeneTable.gene_types` (``ct_{k}_mkr``,
    ``hk``, ``silence``). θ needs no floor: the config refuses θ below :data:`MIN_THETA`.

    Examples
    --------
    >>> from STpuppeteer.config import SimulationConfig
    >>> cfg = SimulationConfig(gene_table={"celltypes": ["T cell"], "genes": {"CD3E": {"mu": 3.0, "theta": 1.5}}})
    >>> table_gene_parameters(cfg).columns.tolist()
    ['feature_name', 'gene_type', 'T cell_theta', 'T cell_mu', 'gene_leakage']
    """
    table = config.gene_table
    if table is None:
        msg = "the config has no gene_table; table_gene_parameters needs one."
        raise ValueError(msg)
    genes = np.asarray(table.gene_names, dtype=object)
    mu, theta = table.mu_array(), table.theta_array()
    columns: dict[str, np.ndarray] = {"feature_name": genes, "gene_type": np.asarray(table.gene_types(), dtype=object)}
    for k, ct in enumerate(table.celltypes):
        columns[f"{ct}_theta"] = theta[k]
        columns[f"{ct}_mu"] = mu[k]
    columns["gene_leakage"] = gene_leakage(config, genes)
    columns.update(localisation_columns(config, genes))
    return pd.DataFrame(columns)
