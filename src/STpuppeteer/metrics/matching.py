"""Matching predicted objects to true ones on a sparse overlap table.

Both the molecule metrics (overlap = shared molecules) and the polygon metrics (overlap =
intersection area) reduce to a sparse true × predicted matrix. The one-to-one matching that
maximises the summed weight (the Hungarian problem) is solved with
:func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching` (LAPJVsp), which only looks
at the nonzero overlaps, so it scales to slides where a dense ``linear_sum_assignment``
would not fit in memory. ``method="max_overlap"`` is the cheap alternative: a pair is matched
when each is the other's largest overlap (mutual best), which equals the Hungarian result
whenever overlaps are unambiguous (e.g. every IoU > 0.5).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

__all__ = ["MatchMethod", "f1_at_thresholds", "match", "over_under_counts", "pair_ratio"]

MatchMethod = Literal["hungarian", "max_overlap"]
IOU_THRESHOLDS = np.round(np.arange(0.5, 0.951, 0.05), 2)


def _hungarian(weights: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    n_true, n_pred = weights.shape
    coo = weights.tocoo()
    # Max weight ↔ min cost with all costs ≥ 1 (zeros would read as missing edges). A private
    # dummy column per row, costing as much as an edge of weight 0, makes a full matching of
    # the rows always exist, so rows may stay unmatched.
    top = float(coo.data.max()) + 1.0
    rows = np.concatenate([coo.row, np.arange(n_true)])
    cols = np.concatenate([coo.col, n_pred + np.arange(n_true)])
    cost = np.concatenate([top - coo.data, np.full(n_true, top)])
    graph = sp.csr_matrix((cost, (rows, cols)), shape=(n_true, n_pred + n_true))
    rows_m, cols_m = min_weight_full_bipartite_matching(graph)
    real = cols_m < n_pred
    return rows_m[real], cols_m[real]


def _hungarian_by_parts(weights: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    # A pair that overlaps nothing else is its own component and is matched as is; only
    # the tangled rest goes to the solver. At IoU >= 0.5 that is nearly every pair.
    coo = weights.tocoo()
    row_deg = np.bincount(coo.row, minlength=weights.shape[0])
    col_deg = np.bincount(coo.col, minlength=weights.shape[1])
    alone = (row_deg[coo.row] == 1) & (col_deg[coo.col] == 1)
    ti, pj = coo.row[alone], coo.col[alone]
    rest_rows = np.flatnonzero((row_deg > 0) & ~np.isin(np.arange(weights.shape[0]), ti))
    rest_cols = np.flatnonzero((col_deg > 0) & ~np.isin(np.arange(weights.shape[1]), pj))
    if len(rest_rows) and len(rest_cols):
        sub = weights[rest_rows][:, rest_cols]
        if sub.nnz:
            si, sj = _hungarian(sub)
            ti = np.concatenate([ti, rest_rows[si]])
            pj = np.concatenate([pj, rest_cols[sj]])
    return ti, pj


def _max_overlap(weights: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    best_pred = np.asarray(weights.argmax(axis=1)).ravel()
    best_true = np.asarray(weights.argmax(axis=0)).ravel()
    has = np.asarray(weights.max(axis=1).todense()).ravel() > 0
    ti = np.flatnonzero(has)
    pj = best_pred[ti]
    mutual = best_true[pj] == ti
    return ti[mutual], pj[mutual]


def match(weights: sp.spmatrix, *, method: MatchMethod = "hungarian") -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of rows (true) to columns (predicted) on positive weights.

    Parameters
    ----------
    weights
        Sparse true × predicted matrix of nonnegative overlaps; zeros are "no overlap".
    method
        ``"hungarian"`` (maximum total weight) or ``"max_overlap"`` (mutual best overlap).

    Returns
    -------
    ``(true_index, pred_index)`` of the matched pairs, every pair with a positive weight.

    Examples
    --------
    >>> w = sp.csr_matrix(np.array([[5, 4], [4, 0]]))
    >>> [a.tolist() for a in match(w)]
    [[0, 1], [1, 0]]
    """
    weights = sp.csr_matrix(weights, dtype=float)
    weights.eliminate_zeros()
    if weights.nnz == 0:
        empty = np.array([], dtype=np.intp)
        return empty, empty
    if method == "hungarian":
        ti, pj = _hungarian_by_parts(weights)
    elif method == "max_overlap":
        ti, pj = _max_overlap(weights)
    else:
        msg = f"method={method!r} is not allowed; choose 'hungarian' or 'max_overlap'."
        raise ValueError(msg)
    w = np.asarray(weights[ti, pj]).ravel()
    keep = w > 0
    order = np.argsort(ti[keep], kind="stable")
    return ti[keep][order].astype(np.intp), pj[keep][order].astype(np.intp)


def pair_ratio(overlap: sp.spmatrix, true_size: np.ndarray, pred_size: np.ndarray) -> sp.csr_matrix:
    """Intersection over union of every overlapping pair, as a sparse matrix.

    Parameters
    ----------
    overlap
        Sparse true × predicted intersections (shared molecules or area).
    true_size, pred_size
        Sizes of the true and predicted objects (molecules or area).

    Returns
    -------
    The sparse IoU (Jaccard) matrix, same pattern as ``overlap``.
    """
    coo = sp.coo_matrix(overlap, dtype=float)
    union = true_size[coo.row] + pred_size[coo.col] - coo.data
    iou = np.divide(coo.data, union, out=np.zeros_like(coo.data), where=union > 0)
    return sp.csr_matrix((iou, (coo.row, coo.col)), shape=coo.shape)


def f1_at_thresholds(
    iou: sp.spmatrix, thresholds: np.ndarray | None = None, *, method: MatchMethod = "hungarian"
) -> dict[str, np.ndarray]:
    """Matched-object precision, recall and F1 at each IoU threshold.

    At each threshold the pairs with IoU ≥ threshold are matched one-to-one (maximum summed
    IoU), true positives are the matches, precision = TP / n_pred, recall = TP / n_true.

    Parameters
    ----------
    iou
        Sparse true × predicted IoU matrix; its shape gives ``n_true`` and ``n_pred``.
    thresholds
        IoU thresholds; default 0.5, 0.55, …, 0.95.
    method
        Matching method (see :func:`match`).

    Returns
    -------
    ``{"threshold", "tp", "precision", "recall", "f1"}`` as arrays over the thresholds.
    """
    thresholds = IOU_THRESHOLDS if thresholds is None else np.asarray(thresholds, dtype=float)
    iou = sp.csr_matrix(iou, dtype=float)
    n_true, n_pred = iou.shape
    tp = np.zeros(len(thresholds), dtype=np.int64)
    for k, t in enumerate(thresholds):  # ten thresholds: a loop over thresholds, not objects
        kept = iou.multiply(iou >= t).tocsr()
        ti, _ = match(kept, method=method)
        tp[k] = len(ti)
    precision = tp / n_pred if n_pred else np.zeros(len(thresholds))
    recall = tp / n_true if n_true else np.zeros(len(thresholds))
    denom = n_true + n_pred
    f1 = 2 * tp / denom if denom else np.zeros(len(thresholds))
    return {"threshold": thresholds, "tp": tp, "precision": precision, "recall": recall, "f1": f1}


def over_under_counts(
    overlap: sp.spmatrix, true_size: np.ndarray, pred_size: np.ndarray, *, cover: float = 0.5
) -> dict[str, int]:
    """Count over-segmented true cells and under-segmented (merged) predicted cells.

    A true cell is over-segmented when at least two predicted cells each lie mostly in it
    (overlap ≥ ``cover`` of the predicted cell). A predicted cell is under-segmented when at
    least two true cells each lie mostly in it (overlap ≥ ``cover`` of the true cell).

    Parameters
    ----------
    overlap
        Sparse true × predicted intersections (shared molecules or area).
    true_size, pred_size
        Sizes of the true and predicted objects.
    cover
        Fraction of an object that must lie in the other to count as a piece of it.

    Returns
    -------
    ``{"n_over_segmented", "n_under_segmented"}``.
    """
    coo = sp.coo_matrix(overlap, dtype=float)
    frac_pred = np.divide(coo.data, pred_size[coo.col], out=np.zeros_like(coo.data), where=pred_size[coo.col] > 0)
    frac_true = np.divide(coo.data, true_size[coo.row], out=np.zeros_like(coo.data), where=true_size[coo.row] > 0)
    pieces_per_true = np.bincount(coo.row[frac_pred >= cover], minlength=coo.shape[0])
    trues_per_pred = np.bincount(coo.col[frac_true >= cover], minlength=coo.shape[1])
    return {
        "n_over_segmented": int((pieces_per_true >= 2).sum()),
        "n_under_segmented": int((trues_per_pred >= 2).sum()),
    }
