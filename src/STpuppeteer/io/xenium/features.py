"""Xenium's features (genes, then control codewords) and what the instrument counts per cell."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from STpuppeteer.io.observed import count_landed, observed_controls
from STpuppeteer.io.xenium import _constants as xc

if TYPE_CHECKING:
    from STpuppeteer.result import SimulationResult

_C = xc.XeniumCellColumns

__all__ = ["cell_totals", "check_ascii_genes", "feature_table", "xenium_features", "xenium_observed_counts"]


def check_ascii_genes(genes: pd.Index | list[str] | np.ndarray) -> None:
    """Refuse gene names a Xenium bundle cannot hold: ``cell_feature_matrix.h5`` stores ASCII bytes.

    10x's HDF5 matrix keeps feature names as fixed-width ASCII strings, and readers of it
    (``spatialdata_io.xenium``, ``scanpy.read_10x_h5``) decode them as such. A config may name
    genes in any script; the other formats (h5ad, SpatialData, MERSCOPE, CosMx) keep them.

    Raises
    ------
    ValueError
        Naming the first few non-ASCII gene names and the way out.
    """
    bad = [str(g) for g in genes if not str(g).isascii()]
    if bad:
        msg = (
            f"gene names {bad[:3]} ({len(bad)} in all) are not ASCII; a Xenium bundle stores feature names as "
            "ASCII bytes (cell_feature_matrix.h5). Rename them, or write another format (h5ad, spatialdata, "
            "merscope, cosmx)."
        )
        raise ValueError(msg)


def xenium_features(result: SimulationResult) -> pd.DataFrame:
    """The panel as Xenium lists it: the genes in ``gpar_df`` order, then the control codewords.

    Parameters
    ----------
    result
        The simulation (its genes, and the controls its molecules carry).

    Returns
    -------
    The table of :func:`feature_table`.
    """
    genes = pd.Index(result.gpar_df["feature_name"].astype(str))
    return feature_table(genes, observed_controls(result.trs_df, genes))


def feature_table(genes: pd.Index | list[str], controls: list[str] | np.ndarray) -> pd.DataFrame:
    """Xenium's feature list: ``genes``, then the control codewords ``controls``.

    Parameters
    ----------
    genes
        Gene names, in panel order.
    controls
        Control codeword names (each starts with a prefix of ``CONTROL_FEATURE_TYPES``).

    Returns
    -------
    One row per feature: ``feature_name``, ``feature_type`` (10x's, e.g. ``"Gene Expression"``,
    ``"Negative Control Probe"``), ``codeword_category`` and ``is_gene``; the row number is the
    ``codeword_index``.
    """
    genes = list(genes)
    check_ascii_genes(genes)
    types, categories = [], []
    for name in controls:
        match = [v for prefix, v in xc.CONTROL_FEATURE_TYPES.items() if name.startswith(prefix)]
        if not match:
            msg = (
                f"trs_df.feature_name holds {name!r}, which is neither a gene of gpar_df nor a control "
                f"codeword; allowed control prefixes are {sorted(xc.CONTROL_FEATURE_TYPES)}."
            )
            raise ValueError(msg)
        types.append(match[0][0])
        categories.append(match[0][1])
    n_genes = len(genes)
    return pd.DataFrame(
        {
            "feature_name": [*genes, *controls],
            "feature_type": [xc.GENE_EXPRESSION] * n_genes + types,
            "codeword_category": [xc.GENE_CODEWORD_CATEGORY] * n_genes + categories,
            "is_gene": np.arange(n_genes + len(controls)) < n_genes,
        }
    )


def xenium_observed_counts(result: SimulationResult, features: pd.DataFrame | None = None) -> sparse.csr_matrix:
    """What the instrument counts: molecules per cell (rows, ``cell_gdf`` order) and feature.

    A molecule counts for the cell whose boundary contains it (``landed_cell_id``) when its
    quality score is at least 20, as in Xenium's ``cell_feature_matrix``.

    Parameters
    ----------
    result
        The simulation.
    features
        The feature table from :func:`xenium_features` (computed when omitted).

    Returns
    -------
    ``int32`` CSR matrix, cells × features.
    """
    features = xenium_features(result) if features is None else features
    trs = result.trs_df
    cell_ids = result.cell_gdf["cell_id"].to_numpy()
    landed = trs["landed_cell_id"].to_numpy()
    if not np.isin(landed[landed >= 0], cell_ids).all():
        msg = "trs_df.landed_cell_id holds ids that are not in cell_gdf.cell_id; every landed cell must exist."
        raise ValueError(msg)
    return count_landed(trs, cell_ids, features["feature_name"], keep=trs["qv"].to_numpy() >= xc.QV_THRESHOLD)


def cell_totals(counts: sparse.csr_matrix, features: pd.DataFrame) -> dict[str, np.ndarray]:
    """The count columns of ``cells.parquet`` (per feature type, and in all) of some cells."""
    counts = counts.tocsr()
    by_type = {t: np.zeros(counts.shape[0], dtype=np.int64) for t in xc.COUNT_COLUMN_OF_TYPE}
    for feature_type, idx in features.groupby("feature_type").indices.items():
        by_type[feature_type] = np.asarray(counts[:, idx].sum(axis=1)).ravel().astype(np.int64)
    totals = {column: by_type[feature_type] for feature_type, column in xc.COUNT_COLUMN_OF_TYPE.items()}
    totals[_C.TOTAL_COUNTS] = np.asarray(counts.sum(axis=1)).ravel().astype(np.int64)
    return totals
