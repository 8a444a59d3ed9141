"""Observed counts of a streamed slide: (cell, feature, count) pairs spilled to disk, summed by cell range.

Each block's molecules give the pairs of the cells they landed in; they are spilled to a
Parquet file (one row group per range of cells) and summed a range of cells at a time into
the rows of ``cell_feature_matrix.h5``, so no whole matrix is ever in memory.
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

__all__ = ["ROWS_PER_MERGE", "ObservedPairs", "PairSpill", "merged_ranges", "summed"]

#: Cells per range when the observed counts are summed (and per row group of the spilled pairs).
ROWS_PER_MERGE = 65_536


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

    def add(self, pairs: ObservedPairs) -> None:
        """Append one part's pairs (sorted by cell), a row group per range of cells it reaches.

        A background part's cells are spread over the slide's numbering; cut at the merge's
        ranges, each range later reads only its own share instead of every such part whole.
        """
        cuts = np.arange(0, int(pairs.row.max(initial=0)) + ROWS_PER_MERGE + 1, ROWS_PER_MERGE)
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
            row = table.column("row").to_numpy()
            keep = (row >= lo) & (row < hi)
            col, count = table.column("col").to_numpy()[keep], table.column("count").to_numpy()[keep]
            return ObservedPairs(row[keep], col, count)

        return read


def merged_ranges(read: Callable[[int, int], ObservedPairs], *, shape: tuple[int, int]) -> Iterator[sparse.csr_matrix]:
    """The sum of the observed counts as CSR rows, a range of cells at a time, in order.

    ``read(lo, hi)`` gives the pairs of cells ``lo:hi`` (from any number of parts, not summed);
    no whole matrix is ever built.
    """
    n_rows, n_cols = shape
    for lo in range(0, max(n_rows, 1), ROWS_PER_MERGE):
        hi = min(lo + ROWS_PER_MERGE, n_rows)
        pairs = read(lo, hi)
        yield summed(pairs.row - lo, pairs.col, pairs.count, shape=(hi - lo, n_cols))


def summed(rows: np.ndarray, cols: np.ndarray, counts: np.ndarray, *, shape: tuple[int, int]) -> sparse.csr_matrix:
    """The CSR matrix of ``counts`` summed over repeated ``(rows, cols)``, columns sorted in each row.

    A counting sort by row (scipy's COO to CSR) instead of sorting the pairs: linear time.
    """
    matrix = sparse.csr_matrix((counts.astype(np.int32), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    return matrix
