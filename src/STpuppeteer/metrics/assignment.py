"""Molecule → cell assignment against each molecule's true source cell.

Everything is computed from one sparse contingency table: rows are the true source cells
(row 0: no source — ambient and control molecules), columns the predicted cells (column 0:
unassigned). Predicted cells are matched one-to-one to true cells on shared molecules
(:func:`~STpuppeteer.metrics.matching.match`); a molecule is then correct when its predicted
cell is matched to its source cell, or when it has no source and is left unassigned.

A leaked molecule's source is the cell that made it, not the one it landed in: assigning it
to the neighbour it landed in is the contamination segmenters must undo. Leaving it
unassigned is reported separately (it is not an error of precision, only of recall).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from STpuppeteer.metrics.matching import MatchMethod, f1_at_thresholds, match, over_under_counts, pair_ratio

__all__ = ["AssignmentScores", "contingency", "score_assignment"]


@dataclass(frozen=True)
class AssignmentScores:
    """Scores of one assignment and the matching they rest on.

    Attributes
    ----------
    summary
        Scalar scores by name (see :func:`score_assignment`).
    per_cell
        One row per true cell with molecules: ``cell_id``, ``n_true``, ``matched_pred`` (code
        of the matched predicted cell, -1 none), ``n_pred``, ``n_shared``, ``jaccard``.
    true_index, pred_index
        The matched pairs: row of ``cell_gdf`` and predicted cell code.
    """

    summary: dict[str, float]
    per_cell: pd.DataFrame
    true_index: np.ndarray
    pred_index: np.ndarray


def contingency(source_row: np.ndarray, pred_code: np.ndarray, n_true: int, n_pred: int) -> sp.csr_matrix:
    """Sparse (n_true + 1) × (n_pred + 1) table of molecule counts; index 0 means "none".

    Parameters
    ----------
    source_row
        Per molecule, the row of its source cell in ``cell_gdf``, or -1.
    pred_code
        Per molecule, its predicted cell code, or -1.
    n_true, n_pred
        Numbers of true and predicted cells.

    Returns
    -------
    The contingency table (duplicates summed).

    Examples
    --------
    >>> contingency(np.array([0, 0, -1]), np.array([1, -1, -1]), 1, 2).toarray().tolist()
    [[1, 0, 0], [1, 0, 1]]
    """
    ones = np.ones(len(source_row), dtype=np.int64)
    return sp.csr_matrix(
        (ones, (np.asarray(source_row) + 1, np.asarray(pred_code) + 1)), shape=(n_true + 1, n_pred + 1)
    )


def score_assignment(
    source_row: np.ndarray,
    pred_code: np.ndarray,
    *,
    n_true: int,
    n_pred: int,
    origin: np.ndarray | None = None,
    cell_ids: np.ndarray | None = None,
    method: MatchMethod = "hungarian",
    thresholds: np.ndarray | None = None,
    cover: float = 0.5,
) -> AssignmentScores:
    """Score a molecule → cell assignment.

    Parameters
    ----------
    source_row
        Per molecule, the row (in ``cell_gdf``) of its true source cell, -1 for none.
    pred_code
        Per molecule, the code of its predicted cell, -1 for unassigned.
    n_true, n_pred
        Numbers of true and predicted cells.
    origin
        Per molecule, ``cell`` / ``leaked`` / ``ambient`` / ``control``; adds the per-origin
        fractions.
    cell_ids
        True ``cell_id`` of each ``cell_gdf`` row, for the per-cell table (default: the rows).
    method
        Matching method, ``"hungarian"`` or ``"max_overlap"``.
    thresholds
        Jaccard thresholds for the molecule-set F1 (default 0.5, 0.55, …, 0.95).
    cover
        Fraction that makes one object a piece of another, for over/under-segmentation.

    Returns
    -------
    :class:`AssignmentScores`. ``summary`` holds ``accuracy`` (molecules whose matched
    predicted cell is their source, or unassigned when they have none), ``precision`` (of
    the assigned molecules, those in the match of their source), ``recall`` (of the molecules
    with a source, those in the match of it), ``assigned_fraction``, ``mean_jaccard`` and
    ``median_jaccard`` (per true cell, molecule sets, 0 when unmatched), ``f1_jaccard50`` and
    ``f1_jaccard_mean`` (matched-cell F1 with molecule-set Jaccard as the IoU),
    ``n_over_segmented`` / ``n_under_segmented`` (by molecules), and when ``origin`` is
    given ``ambient_unassigned``, ``leaked_unassigned``, ``leaked_to_source`` and
    ``leaked_to_other``.
    """
    source_row = np.asarray(source_row, dtype=np.int64)
    pred_code = np.asarray(pred_code, dtype=np.int64)
    if source_row.shape != pred_code.shape:
        msg = f"source_row has shape {source_row.shape} and pred_code {pred_code.shape}; they must match."
        raise ValueError(msg)
    table = contingency(source_row, pred_code, n_true, n_pred)
    true_size = np.asarray(table.sum(axis=1)).ravel()[1:].astype(float)
    pred_size = np.asarray(table.sum(axis=0)).ravel()[1:].astype(float)
    cells = table[1:, 1:]
    ti, pj = match(cells, method=method)
    shared = np.asarray(cells[ti, pj]).ravel().astype(float)

    n_mol = len(source_row)
    matched_true_of_pred = np.full(n_pred, -2, dtype=np.int64)  # -2: assigned but unmatched
    matched_true_of_pred[pj] = ti
    predicted_source = np.where(pred_code >= 0, matched_true_of_pred[np.maximum(pred_code, 0)], -1)
    correct = predicted_source == source_row

    n_assigned = int((pred_code >= 0).sum())
    n_with_source = int((source_row >= 0).sum())
    summary: dict[str, float] = {
        "n_molecules": float(n_mol),
        "n_true_cells": float(n_true),
        "n_pred_cells": float(n_pred),
        "n_matched_cells": float(len(ti)),
        "accuracy": float(correct.mean()) if n_mol else np.nan,
        "precision": float(shared.sum() / n_assigned) if n_assigned else np.nan,
        "recall": float(shared.sum() / n_with_source) if n_with_source else np.nan,
        "assigned_fraction": float(n_assigned / n_mol) if n_mol else np.nan,
    }

    jaccard_of_true = np.zeros(n_true)
    jaccard_of_true[ti] = shared / (true_size[ti] + pred_size[pj] - shared)
    has_molecules = true_size > 0
    summary["mean_jaccard"] = float(jaccard_of_true[has_molecules].mean()) if has_molecules.any() else np.nan
    summary["median_jaccard"] = float(np.median(jaccard_of_true[has_molecules])) if has_molecules.any() else np.nan

    # Cells without molecules cannot be found from molecules: leave them out of the F1.
    live_true = np.flatnonzero(has_molecules)
    live_pred = np.flatnonzero(pred_size > 0)
    iou = pair_ratio(cells, true_size, pred_size)[live_true][:, live_pred]
    f1 = f1_at_thresholds(iou, thresholds, method=method)
    summary["f1_jaccard50"] = float(f1["f1"][0])
    summary["f1_jaccard_mean"] = float(f1["f1"].mean())
    summary.update({k: float(v) for k, v in over_under_counts(cells, true_size, pred_size, cover=cover).items()})

    if origin is not None:
        origin = np.asarray(origin)
        unassigned = pred_code < 0
        for name in ("ambient", "leaked"):
            mask = origin == name
            summary[f"{name}_unassigned"] = float(unassigned[mask].mean()) if mask.any() else np.nan
        leaked = origin == "leaked"
        if leaked.any():
            summary["leaked_to_source"] = float(correct[leaked].mean())
            summary["leaked_to_other"] = float((~correct[leaked] & ~unassigned[leaked]).mean())
        else:
            summary["leaked_to_source"] = summary["leaked_to_other"] = np.nan

    matched_pred = np.full(n_true, -1, dtype=np.int64)
    matched_pred[ti] = pj
    n_shared = np.zeros(n_true)
    n_shared[ti] = shared
    ids = np.arange(n_true) if cell_ids is None else np.asarray(cell_ids)
    per_cell = pd.DataFrame(
        {
            "cell_id": ids,
            "n_true": true_size.astype(np.int64),
            "matched_pred": matched_pred,
            "n_pred": np.where(matched_pred >= 0, pred_size[np.maximum(matched_pred, 0)], 0.0).astype(np.int64),
            "n_shared": n_shared.astype(np.int64),
            "jaccard": jaccard_of_true,
        }
    )[has_molecules].reset_index(drop=True)
    return AssignmentScores(summary=summary, per_cell=per_cell, true_index=ti, pred_index=pj)
