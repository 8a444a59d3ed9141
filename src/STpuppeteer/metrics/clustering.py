"""A plain clustering of a count matrix, scored against the true cell types.

The question a simulated dataset should make hard: can an ordinary pipeline find the cell
types from the counts? :func:`cluster_counts` is that pipeline, fixed so that its answer is
reproducible: counts per cell scaled to the median total, ``log1p``, PCA, then k-means with
k = the number of true types (scikit-learn, a core dependency; scanpy's Leiden would need an
optional dependency and a resolution to tune). :func:`clustering_ari` scores it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from STpuppeteer.metrics.celltyping import score_labels

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["cluster_counts", "clustering_ari"]


def _log_normalised(count_matrix: ArrayLike | sp.spmatrix) -> np.ndarray:
    counts = count_matrix.toarray() if sp.issparse(count_matrix) else np.asarray(count_matrix)
    counts = counts.astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    target = np.median(totals[totals > 0]) if np.any(totals > 0) else 1.0
    # Empty cells stay all zero rather than dividing by zero.
    scaled = np.divide(counts * target, totals, out=np.zeros_like(counts), where=totals > 0)
    return np.log1p(scaled)


def cluster_counts(
    count_matrix: ArrayLike | sp.spmatrix, n_clusters: int, *, n_pcs: int = 30, seed: int = 0
) -> np.ndarray:
    """Cluster cells by their counts: median-total scaling, log1p, PCA, k-means.

    Parameters
    ----------
    count_matrix
        Cells × genes counts (dense or sparse).
    n_clusters
        k of k-means (the number of true types, when scoring against them).
    n_pcs
        Principal components kept (fewer when the matrix has fewer cells or genes).
    seed
        Seed of PCA's solver and k-means' starts.

    Returns
    -------
    ``(n_cells,)`` cluster labels ``0 … n_clusters − 1``.

    Examples
    --------
    >>> counts = np.array([[9, 0], [8, 1], [0, 9], [1, 8]])
    >>> labels = cluster_counts(counts, 2)
    >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
    True
    """
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int | np.integer) or n_clusters < 1:
        msg = f"n_clusters={n_clusters!r} is not allowed; expected an integer ≥ 1."
        raise ValueError(msg)
    logged = _log_normalised(count_matrix)
    n_cells, n_genes = logged.shape
    if n_clusters > n_cells:
        msg = f"n_clusters={n_clusters} is not allowed; the matrix has only {n_cells} cells."
        raise ValueError(msg)
    n_components = min(n_pcs, n_cells - 1, n_genes)
    embedding = PCA(n_components=n_components, random_state=seed).fit_transform(logged) if n_components > 1 else logged
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(embedding)


def clustering_ari(
    count_matrix: ArrayLike | sp.spmatrix, celltype: ArrayLike, *, n_pcs: int = 30, seed: int = 0
) -> float:
    """Adjusted Rand index of :func:`cluster_counts` (k = number of true types) against the true types.

    Parameters
    ----------
    count_matrix
        Cells × genes counts: the true ``count_array``, or an observed matrix.
    celltype
        The true type of each row.
    n_pcs, seed
        As for :func:`cluster_counts`.

    Returns
    -------
    The ARI: 1 when the clusters are the types, about 0 when unrelated.

    Examples
    --------
    >>> clustering_ari(np.array([[9, 0], [8, 1], [0, 9], [1, 8]]), ["a", "a", "b", "b"])
    1.0
    """
    celltype = np.asarray(celltype).astype(str)
    labels = cluster_counts(count_matrix, len(np.unique(celltype)), n_pcs=n_pcs, seed=seed)
    return score_labels(celltype, labels)["ari"]
