"""Observed counts of a streamed slide: (cell, feature, count) pairs spilled to disk, summed by cell range.

Each block's molecules give the pairs of the cells they landed in; they are spilled to a
Parquet file (one row group per part and slice of :data:`CELLS_PER_SPILL_GROUP` cells) and
summed a range of cells at a time into the rows of ``cell_feature_matrix.h5``, so no whole
matrix is ever in memory. A range holds about :data:`PAIRS_PER_MERGE` pairs
(:func:`cells_per_range`): a fixed number of cells would hold ten times more pairs at 5,000
genes and 1,300 molecules a cell than at 400 genes and 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import sparse

from STpuppeteer.io.parquet import ParquetStream

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

__all__ = [
    "CELLS_PER_SPILL_GROUP",
    "PAIRS_PER_MERGE",
    "ROWS_PER_MERGE",
    "ObservedPairs",
    "PairSpill",
    "cells_per_range",
    "merged_ranges",
    "summed",
]

#: Cells per row group of the spilled pairs, at most (a part's pairs are cut at multiples of it),
#: so a range of whole slices reads only its own pairs.
CELLS_PER_SPILL_GROUP = 4_096
#: Cells per range when the observed counts are summed, at most.
ROWS_PER_MERGE = 65_536
#: Pairs summed at once, about: the merge holds some 40 bytes a pair at its peak (the spilled
#: groups read, the filtered arrays, the CSR sum and the HDF5 writer's copies), so ≈ 160 MB.
PAIRS_PER_MERGE = 4_000_000


def cells_per_range(n_pairs: int, n_cells: int, *, pairs_per_range: int | None = None) -> int:
    """Cells summed at once: whole spill slices holding about ``pairs_per_range`` of the ``n_pairs`` pairs.

    ``pairs_per_range`` defaults to :data:`PAIRS_PER_MERGE`.

    A multiple of :data:`CELLS_PER_SPILL_GROUP` (at least one slice, at most
    :data:`ROWS_PER_MERGE` cells), from the mean number of pairs a cell (the spilled pairs, not
    yet summed across parts). The ranges never change the matrix, only how much of it is held.

    Examples
    --------
    >>> cells_per_range(5 * 10**6, 10**5)  # 50 pairs a cell: the largest range
    65536
    >>> cells_per_range(2 * 10**7, 10**5)  # 200 pairs a cell
    16384
    >>> cells_per_range(5 * 10**7, 10**5)  # 500 pairs a cell (5,000 genes): one slice
    4096
    """
    if n_pairs <= 0 or n_cells <= 0:
        return ROWS_PER_MERGE
    if pairs_per_range is None:
        pairs_per_range = PAIRS_PER_MERGE
    slices = int(pairs_per_range * n_cells / (n_pairs * CELLS_PER_SPILL_GROUP))
    return CELLS_PER_SPILL_GROUP * min(max(slices, 1), ROWS_PER_MERGE // CELLS_PER_SPILL_GROUP)


@dataclass(frozen=True)
class ObservedPairs:
    """Observed counts of some molecules as (cell row, feature, count), sorted by cell then feature."""

    row: np.ndarray
    col: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray, cols: np.ndarray, *, n_features: int) -> ObservedPairs:
        """Count the (row, col) pairs of the molecules."""
        if not len(rows):
            return cls(*(np.zeros(0, np.int32) for _ in range(3)))
        lo, hi = int(rows.min()), int(rows.max()) + 1
        matrix = summed(rows - lo, cols, np.ones(len(rows), np.int32), shape=(hi - lo, n_features))
        row = np.repeat(np.arange(lo, hi, dtype=np.int32), np.diff(matrix.indptr))
        return cls(row, matrix.indices.astype(np.int32), matrix.data.astype(np.int32))

    def table(self) -> pa.Table:
        """As an Arrow table (columns ``row``, ``col``, ``count``)."""
        return pa.table({"row": self.row, "col": self.col, "count": self.count})


class PairSpill:
    """Every block's observed pairs, spilled to a Parquet file (one row group a part) and read back by cell range.

    A slide's pairs (one per cell and detected feature: ~2·10⁸ for 10⁶ Xenium cells) would
    take gigabytes in memory. On disk each row group's statistics give its smallest and
    largest cell, so a range of cells reads only the groups that reach into it: a block's
    own, the neighbours its leaked molecules reached, and the background's.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream = ParquetStream(path)
        self.n_pairs = 0

    def add(self, pairs: ObservedPairs) -> None:
        """Append one part's pairs (sorted by cell), a row group per slice of cells it reaches.

        A part's cells (its block's, the neighbours its leaked molecules reached, those under
        its background tiles) are spread over the slide's numbering; cut into slices of
        :data:`CELLS_PER_SPILL_GROUP` cells, each range later reads only its own share
        instead of every such part whole.
        """
        self.n_pairs += len(pairs.row)
        cuts = np.arange(0, int(pairs.row.max(initial=0)) + CELLS_PER_SPILL_GROUP + 1, CELLS_PER_SPILL_GROUP)
        bounds = np.searchsorted(pairs.row, cuts)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi > lo:
                self.stream.write(ObservedPairs(pairs.row[lo:hi], pairs.col[lo:hi], pairs.count[lo:hi]).table())

    def close(self) -> None:
        """Finish the file (before reading it back)."""
        self.stream.close()

    def reader(self) -> Callable[[int, int], ObservedPairs]:
        """``read(lo, hi)``: the pairs of cells ``lo:hi`` from every part (not summed across parts)."""
        if self.stream.writer is None:
            return lambda lo, hi: ObservedPairs(*(np.zeros(0, np.int32) for _ in range(3)))
        file = pq.ParquetFile(self.path)
        stats = [file.metadata.row_group(i).column(0).statistics for i in range(file.num_row_groups)]
        low = np.array([st.min for st in stats])
        high = np.array([st.max for st in stats])

        def read(lo: int, hi: int) -> ObservedPairs:
            groups = np.flatnonzero((low < hi) & (high >= lo)).tolist()
            table = file.read_row_groups(groups) if groups else ObservedPairs(*(np.zeros(0, np.int32),) * 3).table()
            row, col, count = (table.column(name).to_numpy() for name in ("row", "col", "count"))
            del table
            if groups and low[groups].min() >= lo and high[groups].max() < hi:
                return ObservedPairs(row, col, count)  # whole slices: nothing to cut (no copies)
            keep = (row >= lo) & (row < hi)
            return ObservedPairs(row[keep], col[keep], count[keep])

        return read


def merged_ranges(
    read: Callable[[int, int], ObservedPairs], *, shape: tuple[int, int], cells_per_range: int = ROWS_PER_MERGE
) -> Iterator[sparse.csr_matrix]:
    """The sum of the observed counts as CSR rows, ``cells_per_range`` cells at a time, in order.

    ``read(lo, hi)`` gives the pairs of cells ``lo:hi`` (from any number of parts, not summed);
    no whole matrix is ever built.
    """
    n_rows, n_cols = shape
    for lo in range(0, max(n_rows, 1), cells_per_range):
        hi = min(lo + cells_per_range, n_rows)
        pairs = read(lo, hi)
        matrix = summed(pairs.row - lo, pairs.col, pairs.count, shape=(hi - lo, n_cols))
        del pairs  # not held while the consumer writes the range
        yield matrix


def summed(rows: np.ndarray, cols: np.ndarray, counts: np.ndarray, *, shape: tuple[int, int]) -> sparse.csr_matrix:
    """The CSR matrix of ``counts`` summed over repeated ``(rows, cols)``, columns sorted in each row.

    A counting sort by row (scipy's COO to CSR) instead of sorting the pairs: linear time.
    """
    matrix = sparse.csr_matrix((counts.astype(np.int32, copy=False), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    return matrix
