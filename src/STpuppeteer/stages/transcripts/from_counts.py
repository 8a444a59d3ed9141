"""Molecules of a count matrix, one row each, before any position is drawn."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

__all__ = ["counts_to_transcript_df", "expand_counts"]


# ---------------------------------------------------------------------------------------
# Known entry points
# ---------------------------------------------------------------------------------------
def counts_to_transcript_df(
    count_array: np.ndarray, cell_ids: np.ndarray, gene_names: np.ndarray | list[str]
) -> pd.DataFrame:
    """One row per molecule of a count matrix (no positions): ``cell_id``, ``feature_name``.

    Rows come cell by cell in the order of ``cell_ids``, genes in panel order within a cell.

    Parameters
    ----------
    count_array
        Integer counts, cells × genes.
    cell_ids
        Id of each row's cell.
    gene_names
        Name of each column's gene.

    Returns
    -------
    DataFrame with ``transcript_id``, ``cell_id`` and categorical ``feature_name``.

    Examples
    --------
    >>> counts_to_transcript_df(np.array([[2, 0], [0, 1]]), [10, 11], ["a", "b"])
       transcript_id  cell_id feature_name
    0              0       10            a
    1              1       10            a
    2              2       11            b
    """
    counts = np.asarray(count_array)
    cell_ids = np.asarray(cell_ids)
    gene_names = np.asarray(gene_names, dtype=object)
    if counts.ndim != 2 or counts.shape != (len(cell_ids), len(gene_names)):
        msg = (
            f"count_array has shape {counts.shape}; expected (len(cell_ids), len(gene_names)) = "
            f"({len(cell_ids)}, {len(gene_names)})."
        )
        raise ValueError(msg)
    if counts.size and (counts.min() < 0 or not np.issubdtype(counts.dtype, np.integer)):
        msg = "count_array must hold non-negative integers."
        raise ValueError(msg)
    row, gene = expand_counts(counts)
    return pd.DataFrame(
        {
            "transcript_id": np.arange(len(row), dtype=np.int64),
            "cell_id": cell_ids[row],
            "feature_name": pd.Categorical.from_codes(gene, categories=pd.Index(gene_names)),
        }
    )


def expand_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column (int32) of every unit of a count matrix, row-major.

    Examples
    --------
    >>> [a.tolist() for a in expand_counts(np.array([[2, 0], [0, 1]]))]
    [[0, 0, 1], [0, 0, 1]]
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or not np.issubdtype(counts.dtype, np.integer) or counts.shape[0] * counts.shape[1] >= 2**31:
        flat = counts.ravel()
        nz = np.flatnonzero(flat)
        reps = flat[nz]
        n_genes = counts.shape[1]
        row = np.repeat((nz // n_genes).astype(np.int32), reps)
        gene = np.repeat((nz % n_genes).astype(np.int32), reps)
        return row, gene
    # One compiled pass to size the output, one to fill it: what the repeats above give.
    counts = np.ascontiguousarray(counts)
    total = _total(counts)
    if total < 0:
        msg = "count_array must hold non-negative integers."
        raise ValueError(msg)
    row, gene = np.empty(total, dtype=np.int32), np.empty(total, dtype=np.int32)
    _fill(counts, row, gene)
    return row, gene


@numba.njit(cache=True, nogil=True)
def _total(counts: np.ndarray) -> int:
    # The sum of the positive counts; -1 if any is negative (np.repeat refuses them).
    total = 0
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            c = counts[i, j]
            if c < 0:
                return -1
            total += c
    return total


@numba.njit(cache=True, nogil=True)
def _fill(counts: np.ndarray, row: np.ndarray, gene: np.ndarray) -> None:
    k = 0
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            for _ in range(counts[i, j]):
                row[k] = i
                gene[k] = j
                k += 1
