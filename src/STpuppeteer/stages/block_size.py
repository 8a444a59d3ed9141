"""Cells per random block: the config's ``transcripts.block_size``, or ``"auto"`` chosen from the model.

A block of cells is drawn whole (its counts, then its molecules) from its own keyed generator,
so its size is part of the model's keys, and its molecules and count arrays are in memory at
once; a streamed slide holds a few blocks in flight. A fixed number of cells holds ten times more
molecules at 5,000 genes and 1,300 molecules a cell than at 400 genes and 200, and so ten times
the memory. ``block_size: auto`` takes the largest power of two up to :data:`AUTO_MAX_CELLS`
whose block holds at most :data:`MOLECULES_PER_BLOCK` expected molecules and
:data:`COUNTS_PER_BLOCK` cells × genes. It is decided from the count model's expected gene
totals (no draw), the same numbers in every driver, so the in-memory and streamed runs cut the
same blocks. An integer ``block_size`` is used as given (the default, 4,096, too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["AUTO_MAX_CELLS", "AUTO_MIN_CELLS", "COUNTS_PER_BLOCK", "MOLECULES_PER_BLOCK", "resolve_block_size"]

#: Largest automatic block: the default ``block_size``.
AUTO_MAX_CELLS = 4_096
#: Smallest automatic block: below it the per-block work (geometry halo, row groups) dominates.
AUTO_MIN_CELLS = 64
#: Expected molecules a block holds at most, about 10⁶ (2²⁰): issue 17's target slide (4,096 cells of
#: ~200 molecules, 8·10⁵) fits in one block; each block in flight holds ~300 bytes a molecule at its peak.
MOLECULES_PER_BLOCK = 1 << 20
#: Cells × genes a block holds at most (2²²): the count draw keeps about three float64 arrays of
#: that shape, ≈ 100 MB.
COUNTS_PER_BLOCK = 1 << 22


def resolve_block_size(block_size: int | str, *, gene_totals: np.ndarray, n_cells: int) -> int:
    """Cells per block: ``block_size`` itself, or the automatic size for ``"auto"``.

    Parameters
    ----------
    block_size
        The config's ``transcripts.block_size``: an integer, or ``"auto"``.
    gene_totals
        Every gene's expected total count over the cells (``CountModel.expected_gene_totals``);
        its sum over ``n_cells`` is the expected molecules of a cell, its length the genes.
    n_cells
        Cells of the run.

    Returns
    -------
    The cells per block.

    Examples
    --------
    >>> import numpy as np
    >>> resolve_block_size(128, gene_totals=np.ones(5), n_cells=10)
    128
    >>> resolve_block_size("auto", gene_totals=np.full(400, 200 * 1000 / 400), n_cells=1000)  # 200 a cell
    4096
    >>> resolve_block_size("auto", gene_totals=np.full(5001, 1300 * 1000 / 5001), n_cells=1000)  # 1,300 a cell
    512
    """
    if block_size != "auto":
        return int(block_size)
    per_cell = float(gene_totals.sum()) / max(n_cells, 1)
    n_genes = len(gene_totals)
    cells = AUTO_MAX_CELLS
    while cells > AUTO_MIN_CELLS and (cells * per_cell > MOLECULES_PER_BLOCK or cells * n_genes > COUNTS_PER_BLOCK):
        cells //= 2
    return cells
