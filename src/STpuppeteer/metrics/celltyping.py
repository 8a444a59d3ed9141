"""Cell typing: predicted labels of matched cells against the true ``celltype``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.special import comb

__all__ = ["adjusted_rand_index", "score_labels"]


def _label_table(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ia, _ = pd.factorize(pd.Series(a).astype(str))
    ib, _ = pd.factorize(pd.Series(b).astype(str))
    table = sp.csr_matrix((np.ones(len(ia), dtype=np.int64), (ia, ib)), shape=(ia.max() + 1, ib.max() + 1))
    return table.toarray()


def adjusted_rand_index(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Adjusted Rand index (Hubert & Arabie, 1985) of two labelings of the same items.

    Parameters
    ----------
    labels_true, labels_pred
        Labels of the same items (any hashable values).

    Returns
    -------
    ARI: 1 for identical partitions (up to renaming), about 0 for independent ones.

    Examples
    --------
    >>> adjusted_rand_index(["a", "a", "b", "b"], [1, 1, 0, 0])
    1.0
    >>> round(adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]), 3)
    -0.5
    """
    labels_true = np.asarray(labels_true)
    labels_pred = np.asarray(labels_pred)
    if labels_true.shape != labels_pred.shape:
        msg = f"labels_true has shape {labels_true.shape} and labels_pred {labels_pred.shape}; they must match."
        raise ValueError(msg)
    n = len(labels_true)
    if n < 2:
        return np.nan
    table = _label_table(labels_true, labels_pred)
    sum_cells = comb(table, 2).sum()
    sum_rows = comb(table.sum(axis=1), 2).sum()
    sum_cols = comb(table.sum(axis=0), 2).sum()
    expected = sum_rows * sum_cols / comb(n, 2)
    top = (sum_rows + sum_cols) / 2
    if top == expected:  # both partitions trivial (one cluster each, or all singletons)
        return 1.0
    return float((sum_cells - expected) / (top - expected))


def score_labels(labels_true: np.ndarray, labels_pred: np.ndarray) -> dict[str, float]:
    """ARI and accuracy of predicted cell types on matched cells.

    Parameters
    ----------
    labels_true
        True ``celltype`` of each matched cell.
    labels_pred
        Predicted label of the same cells; any names (clusters need not be called ``ct_k``).

    Returns
    -------
    ``ari``; ``accuracy`` (labels equal as strings); ``accuracy_best_map`` (after the
    one-to-one renaming of predicted labels to true types that maximises agreement, for
    clusterings with arbitrary names); ``n_labelled``.

    Examples
    --------
    >>> score_labels(np.array(["ct_0", "ct_1"]), np.array(["B", "A"]))["accuracy_best_map"]
    1.0
    """
    labels_true = np.asarray(labels_true).astype(str)
    labels_pred = np.asarray(labels_pred).astype(str)
    n = len(labels_true)
    if n == 0:
        return {"ari": np.nan, "accuracy": np.nan, "accuracy_best_map": np.nan, "n_labelled": 0.0}
    table = _label_table(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return {
        "ari": adjusted_rand_index(labels_true, labels_pred),
        "accuracy": float((labels_true == labels_pred).mean()),
        "accuracy_best_map": float(table[rows, cols].sum() / n),
        "n_labelled": float(n),
    }
