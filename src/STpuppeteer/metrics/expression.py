"""Expression recovered by a segmentation: per-cell correlation and MECR.

MECR, the mutually exclusive co-expression rate (Hartman & Satija, 2024, "Comparative
analysis of multiplexed in situ gene expression profiling technologies"), is for a pair of
genes that should never be expressed in the same cell the fraction of cells expressing
both among the cells expressing either; averaged over pairs. Here the pairs are markers of
different cell types read from ``gpar_df`` (a gene marking types {0, 1} and one marking {1}
share a type and are not a pair). With silent cross-type expression the true counts give a
MECR near zero; molecules leaking into neighbours, and segmentation errors, raise it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from STpuppeteer.stages.genes import marker_celltypes

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["count_matrix", "exclusive_marker_pairs", "mecr", "rowwise_pearson"]


def count_matrix(cell_code: np.ndarray, gene_code: np.ndarray, n_cells: int, n_genes: int) -> sp.csr_matrix:
    """Cells × genes counts of molecules, skipping those with code -1 (no cell or no gene).

    Parameters
    ----------
    cell_code, gene_code
        Per molecule, its cell and gene index (-1: leave out).
    n_cells, n_genes
        The matrix shape.

    Returns
    -------
    A sparse integer count matrix.

    Examples
    --------
    >>> count_matrix(np.array([0, 0, 1, -1]), np.array([1, 1, 0, 0]), 2, 2).toarray().tolist()
    [[0, 2], [1, 0]]
    """
    keep = (np.asarray(cell_code) >= 0) & (np.asarray(gene_code) >= 0)
    return sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.int64), (cell_code[keep], gene_code[keep])), shape=(n_cells, n_genes)
    )


def exclusive_marker_pairs(gpar_df: pd.DataFrame) -> np.ndarray:
    """Pairs of genes (column indices of ``gpar_df`` order) marking disjoint sets of cell types.

    Parameters
    ----------
    gpar_df
        Gene parameters with ``feature_name`` and ``gene_type``.

    Returns
    -------
    An ``(n_pairs, 2)`` integer array with ``i < j``.
    """
    markers = marker_celltypes(gpar_df)
    names = gpar_df["feature_name"].to_numpy()
    idx = np.array([i for i, n in enumerate(names) if n in markers], dtype=np.intp)
    if len(idx) < 2:
        return np.zeros((0, 2), dtype=np.intp)
    types = sorted({t for n in names[idx] for t in markers[n]})
    member = np.zeros((len(idx), len(types)), dtype=bool)
    col = {t: k for k, t in enumerate(types)}
    for r, n in enumerate(names[idx]):  # one row per marker gene, not per cell or molecule
        member[r, [col[t] for t in markers[n]]] = True
    shares = (member.astype(np.int64) @ member.T.astype(np.int64)) > 0
    a, b = np.nonzero(np.triu(~shares, k=1))
    return np.column_stack([idx[a], idx[b]])


def mecr(counts: np.ndarray | sp.spmatrix, pairs: np.ndarray, *, min_count: int = 1) -> float:
    """Mutually exclusive co-expression rate of ``counts`` over gene ``pairs``.

    Parameters
    ----------
    counts
        Cells × genes counts (dense or sparse).
    pairs
        ``(n_pairs, 2)`` gene column indices, e.g. from :func:`exclusive_marker_pairs`.
    min_count
        A gene is "expressed" in a cell with at least this many molecules.

    Returns
    -------
    The mean over pairs (expressed in at least one cell) of
    ``n(both expressed) / n(either expressed)``; NaN when no pair is expressed.

    Examples
    --------
    >>> counts = np.array([[3, 0], [0, 2], [1, 1], [0, 0]])
    >>> mecr(counts, np.array([[0, 1]]))
    0.3333333333333333
    """
    pairs = np.asarray(pairs, dtype=np.intp).reshape(-1, 2)
    if not len(pairs):
        return np.nan
    genes = np.unique(pairs)
    local = np.searchsorted(genes, pairs)
    expressed = sp.csc_matrix(counts)[:, genes] >= min_count
    expressed = sp.csr_matrix(expressed, dtype=np.int64)
    both = (expressed.T @ expressed).toarray()
    n_each = np.diag(both)
    co = both[local[:, 0], local[:, 1]]
    either = n_each[local[:, 0]] + n_each[local[:, 1]] - co
    ok = either > 0
    if not ok.any():
        return np.nan
    return float((co[ok] / either[ok]).mean())


def rowwise_pearson(a: np.ndarray | sp.spmatrix, b: np.ndarray | sp.spmatrix) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` (NaN if constant).

    Parameters
    ----------
    a, b
        Two matrices of the same shape (cells × genes).

    Returns
    -------
    One correlation per row.

    Examples
    --------
    >>> rowwise_pearson(np.array([[1, 2, 3], [1, 1, 1]]), np.array([[2, 4, 6], [0, 1, 2]])).tolist()
    [1.0, nan]
    """
    a = a.toarray() if sp.issparse(a) else np.asarray(a)
    b = b.toarray() if sp.issparse(b) else np.asarray(b)
    a = a.astype(float) - a.mean(axis=1, keepdims=True)
    b = b.astype(float) - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    num = (a * b).sum(axis=1)
    return np.divide(num, denom, out=np.full(len(num), np.nan), where=denom > 0)
