"""Predicted cell polygons against the true cell polygons.

Candidate pairs come from a :class:`shapely.STRtree` query (bounding boxes, then an exact
``intersects``), and their intersection areas from one vectorised
:func:`shapely.intersection` call, so the cost grows with the number of touching pairs, not
with n_true × n_pred.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import shapely

from STpuppeteer.metrics.matching import MatchMethod, f1_at_thresholds, over_under_counts, pair_ratio

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["overlap_areas", "score_segmentation"]


def overlap_areas(true_geoms: Sequence, pred_geoms: Sequence) -> sp.csr_matrix:
    """Sparse true × predicted matrix of intersection areas.

    Parameters
    ----------
    true_geoms, pred_geoms
        Arrays of shapely polygons.

    Returns
    -------
    The intersection areas of every touching pair (others are zero).

    Examples
    --------
    >>> a = [shapely.box(0, 0, 2, 2)]
    >>> b = [shapely.box(1, 0, 3, 2), shapely.box(5, 5, 6, 6)]
    >>> overlap_areas(a, b).toarray().tolist()
    [[2.0, 0.0]]
    """
    true_geoms = np.asarray(true_geoms, dtype=object)
    pred_geoms = np.asarray(pred_geoms, dtype=object)
    shape = (len(true_geoms), len(pred_geoms))
    if not len(true_geoms) or not len(pred_geoms):
        return sp.csr_matrix(shape)
    tree = shapely.STRtree(pred_geoms)
    ti, pj = tree.query(true_geoms, predicate="intersects")
    area = shapely.area(shapely.intersection(true_geoms[ti], pred_geoms[pj]))
    keep = area > 0
    return sp.csr_matrix((area[keep], (ti[keep], pj[keep])), shape=shape)


def score_segmentation(
    true_geoms: Sequence,
    pred_geoms: Sequence,
    *,
    thresholds: np.ndarray | None = None,
    method: MatchMethod = "hungarian",
    cover: float = 0.5,
) -> dict[str, float]:
    """Matched-object precision, recall and F1 of predicted polygons, and over/under-segmentation.

    Parameters
    ----------
    true_geoms, pred_geoms
        True and predicted cell polygons.
    thresholds
        IoU thresholds (default 0.5, 0.55, …, 0.95).
    method
        Matching method, ``"hungarian"`` or ``"max_overlap"``.
    cover
        Area fraction of a cell that must lie in another to count as a piece of it.

    Returns
    -------
    ``precision50``, ``recall50``, ``f1_50`` (IoU ≥ 0.5), ``precision_mean``, ``recall_mean``,
    ``f1_mean`` (averaged over the thresholds), ``mean_matched_iou`` (over the pairs matched
    at 0.5), ``n_over_segmented`` and ``n_under_segmented``, and the counts.

    Examples
    --------
    >>> boxes = [shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)]
    >>> score_segmentation(boxes, boxes)["f1_mean"]
    1.0
    """
    true_geoms = np.asarray(true_geoms, dtype=object)
    pred_geoms = np.asarray(pred_geoms, dtype=object)
    overlap = overlap_areas(true_geoms, pred_geoms)
    true_area = shapely.area(true_geoms).astype(float) if len(true_geoms) else np.zeros(0)
    pred_area = shapely.area(pred_geoms).astype(float) if len(pred_geoms) else np.zeros(0)
    iou = pair_ratio(overlap, true_area, pred_area)
    f1 = f1_at_thresholds(iou, thresholds, method=method)
    first = iou.multiply(iou >= f1["threshold"][0]).tocsr()
    first.eliminate_zeros()
    out = {
        "n_true_cells": float(len(true_geoms)),
        "n_pred_cells": float(len(pred_geoms)),
        "precision50": float(f1["precision"][0]),
        "recall50": float(f1["recall"][0]),
        "f1_50": float(f1["f1"][0]),
        "precision_mean": float(f1["precision"].mean()),
        "recall_mean": float(f1["recall"].mean()),
        "f1_mean": float(f1["f1"].mean()),
        "mean_matched_iou": float(first.data.mean()) if first.nnz else np.nan,
    }
    out.update({k: float(v) for k, v in over_under_counts(overlap, true_area, pred_area, cover=cover).items()})
    return out
