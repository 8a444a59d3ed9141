"""Neighbourhood enrichment as squidpy's ``gr.nhood_enrichment`` computes it, on a Delaunay graph.

squidpy is not among the test dependencies, so the tests compute the same statistic: for each
pair of labels, the number of graph edges joining them, against the same count after permuting
the labels over the cells, as a z-score (observed − mean of the null) / s.d. of the null.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import Delaunay


def delaunay_edges(xy: np.ndarray) -> np.ndarray:
    """``(e, 2)`` unique edges (i < j) of the Delaunay triangulation of the points."""
    tri = Delaunay(xy)
    edges = np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [0, 2]]])
    return np.unique(np.sort(edges, axis=1), axis=0)


def pair_counts(edges: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """``(k, k)`` symmetric counts of edges joining each pair of labels (a same-label edge counts twice)."""
    a, b = labels[edges[:, 0]], labels[edges[:, 1]]
    counts = np.bincount(a * k + b, minlength=k * k).reshape(k, k)
    return counts + counts.T


def enrichment_z(edges: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *, n_perm: int = 200) -> np.ndarray:
    """``(k, k)`` z-scores of the label-pair edge counts against label permutations."""
    k = int(labels.max()) + 1
    observed = pair_counts(edges, labels, k)
    null = np.stack([pair_counts(edges, rng.permutation(labels), k) for _ in range(n_perm)])
    return (observed - null.mean(axis=0)) / null.std(axis=0)
