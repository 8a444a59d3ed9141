"""What an instrument's cell-by-gene table counts: detected molecules per landed cell and feature.

Every writer (AnnData's ``observed`` layer, Xenium's ``cell_feature_matrix``, MERSCOPE's
``cell_by_gene``, CosMx's ``exprMat``) counts molecules by the cell whose boundary contains
them (``landed_cell_id``), as the instrument's default segmentation would; they differ only
in which features they list and which molecules they keep (e.g. Xenium's quality cut).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["count_landed", "feature_codes", "observed_controls"]


def feature_codes(trs_df: pd.DataFrame, feature_names: np.ndarray | pd.Index) -> np.ndarray:
    """Position of each molecule's ``feature_name`` in ``feature_names`` (``-1`` if absent).

    Goes through the categories when the column is categorical (as ``trs_df`` writes it), so
    no per-molecule string is compared.

    Parameters
    ----------
    trs_df
        Molecules with a ``feature_name`` column.
    feature_names
        The features to index into.

    Returns
    -------
    ``(n_molecules,)`` integer positions.
    """
    names = trs_df["feature_name"]
    cat = names.array if isinstance(names.dtype, pd.CategoricalDtype) else pd.Categorical(names)
    lookup = pd.Index(np.asarray(feature_names, dtype=object)).get_indexer(np.asarray(cat.categories, dtype=object))
    return np.append(lookup, -1)[cat.codes]  # code -1 (missing name) → -1


def observed_controls(trs_df: pd.DataFrame, gene_names: np.ndarray | pd.Index) -> np.ndarray:
    """Sorted names of the features that occur in ``trs_df`` but are not genes (the control probes/codewords).

    Reads the categories of a categorical ``feature_name`` (as ``trs_df`` writes it) rather than
    converting every molecule's name.

    Parameters
    ----------
    trs_df
        Molecules with a ``feature_name`` column.
    gene_names
        The panel's genes (``gpar_df["feature_name"]``).

    Returns
    -------
    The control names, sorted.

    Examples
    --------
    >>> trs = pd.DataFrame({"feature_name": ["g1", "NegControlProbe_1", "g2", "NegControlProbe_1"]})
    >>> observed_controls(trs, ["g1", "g2"]).tolist()
    ['NegControlProbe_1']
    """
    names = trs_df["feature_name"]
    cat = names.array if isinstance(names.dtype, pd.CategoricalDtype) else pd.Categorical(names)
    occurring = np.asarray(cat.remove_unused_categories().categories, dtype=str)
    return np.sort(np.setdiff1d(occurring, np.asarray(gene_names, dtype=str)))


def count_landed(
    trs_df: pd.DataFrame,
    cell_ids: np.ndarray,
    feature_names: np.ndarray | pd.Index,
    *,
    keep: np.ndarray | None = None,
) -> sparse.csr_matrix:
    """Molecules per landed cell (rows, in ``cell_ids`` order) and feature (columns).

    Molecules outside every cell, of features not listed, or with ``keep`` false are not counted.

    Parameters
    ----------
    trs_df
        Molecules with ``landed_cell_id`` and ``feature_name``.
    cell_ids
        The cells, in row order.
    feature_names
        The features, in column order.
    keep
        Optional boolean mask of molecules to count.

    Returns
    -------
    ``int32`` CSR matrix ``(len(cell_ids), len(feature_names))``.

    Examples
    --------
    >>> trs = pd.DataFrame({"landed_cell_id": [0, 0, 1, -1], "feature_name": ["a", "b", "a", "a"]})
    >>> count_landed(trs, np.array([0, 1]), ["a", "b"]).toarray().tolist()
    [[1, 1], [1, 0]]
    """
    landed = trs_df["landed_cell_id"].to_numpy()
    rows = pd.Index(np.asarray(cell_ids)).get_indexer(landed)
    cols = feature_codes(trs_df, feature_names)
    ok = (rows >= 0) & (cols >= 0)
    if keep is not None:
        ok &= keep
    shape = (len(cell_ids), len(feature_names))
    data = np.ones(int(ok.sum()), dtype=np.int32)
    # COO → CSR sums the duplicate entries: one per molecule.
    return sparse.coo_matrix((data, (rows[ok], cols[ok])), shape=shape).tocsr()
