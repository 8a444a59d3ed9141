"""The streamed sink of a Xenium bundle: molecule rows appended block by block.

A driver that draws a slide block by block (:func:`~STpuppeteer.pipeline.streamed.simulate_to_xenium`)
turns each block into :class:`MoleculeRows` with :func:`tabulate` (on its worker threads)
and appends them to a :class:`XeniumStream`, which writes ``transcripts.parquet`` and the
ground truth's molecules and true counts as one Parquet row group per block and spills the
observed counts; the rest of the bundle is written through
:class:`~STpuppeteer.io.xenium.bundle.XeniumBundle` as in memory.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from STpuppeteer.io.ground_truth import GROUND_TRUTH_DIR, GroundTruthFiles
from STpuppeteer.io.parquet import ParquetStream
from STpuppeteer.io.xenium import _constants as xc
from STpuppeteer.io.xenium.observed_pairs import ObservedPairs, PairSpill, cells_per_range, merged_ranges
from STpuppeteer.io.xenium.transcripts import transcripts_table

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd
    from scipy import sparse

    from STpuppeteer.geometry.nearest_nucleus import NearestNucleus

__all__ = ["MoleculeRows", "XeniumStream", "tabulate"]


@dataclass
class MoleculeRows:
    """Some molecules' rows for every streamed file.

    Attributes
    ----------
    molecules
        Rows of ``ground_truth/molecules.parquet`` (``trs_df`` rows).
    transcripts
        Rows of ``transcripts.parquet``.
    observed
        Their observed (cell, feature, count) pairs.
    true_counts
        Rows of ``ground_truth/true_counts.parquet`` (a block of cells; ``None`` for background).
    """

    molecules: pd.DataFrame
    transcripts: pa.Table
    observed: ObservedPairs
    true_counts: pd.DataFrame | None = None


def tabulate(
    frame: pd.DataFrame,
    landed: np.ndarray,
    *,
    cell_names: pa.Array,
    features: pd.DataFrame,
    nearest: NearestNucleus,
    fov_size: float,
) -> MoleculeRows:
    """The streamed rows of some molecules (``trs_df`` rows ``frame``; ``landed``: row of their landed cell, -1 none).

    The observed pairs count what the count matrix counts: molecules in a cell with a
    quality score of at least 20.
    """
    table = transcripts_table(frame, landed, cell_names, features, nearest=nearest, fov_size=fov_size)
    keep = (landed >= 0) & (frame["qv"].to_numpy() >= xc.QV_THRESHOLD)
    # The feature of each molecule is already in the table (its codeword index).
    cols = table.column(xc.XeniumTranscriptColumns.CODEWORD_INDEX).to_numpy()[keep]
    return MoleculeRows(frame, table, ObservedPairs.of(landed[keep], cols, n_features=len(features)))


class XeniumStream:
    """The molecule files of a bundle being streamed, appended a block at a time (a context manager).

    Parameters
    ----------
    folder
        The bundle's (temporary) folder; the streams are written beside the files they become.
    n_cells, n_features
        Shape of the observed count matrix.
    """

    def __init__(self, folder: Path, *, n_cells: int, n_features: int) -> None:
        self.folder = folder
        self.shape = (n_cells, n_features)
        # transcripts.parquet's strings come as dictionaries; readers must see plain strings.
        self.streams = {name: ParquetStream(folder / f"_stream_{name}.parquet", store_schema=name != "trs")
                        for name in ("trs", "truth", "counts")}
        self.observed = PairSpill(folder / "_stream_observed.parquet")
        self.n_written = 0
        # Each file's row groups are encoded on a thread of its own while the driver goes on with the
        # next block: pyarrow encodes without the GIL, so the three files no longer take turns on the
        # writer's one thread. One write is pending per file at a time, so a file's row groups keep
        # their order (the same bytes) and at most one block's rows wait beside the next.
        self._pool = ThreadPoolExecutor(max_workers=len(self.streams), thread_name_prefix="xenium-stream")
        self._pending: dict[str, Future[None]] = {}

    def _write(self, name: str, data: pa.Table | pd.DataFrame) -> None:
        previous = self._pending.pop(name, None)
        if previous is not None:
            previous.result()  # its error, if any, surfaces here
        self._pending[name] = self._pool.submit(self.streams[name].write, data)

    def _finish_writes(self) -> None:
        pending, self._pending = list(self._pending.values()), {}
        errors = [f.exception() for f in pending]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def append(self, rows: MoleculeRows) -> None:
        """Append one block's rows, numbering its molecules after those written before."""
        ids = np.arange(self.n_written, self.n_written + len(rows.molecules), dtype=np.int64)
        rows.molecules["transcript_id"] = ids
        table = rows.transcripts.set_column(0, rows.transcripts.schema.field(0), pa.array(ids.astype(np.uint64)))
        self._write("trs", table)
        self._write("truth", rows.molecules)
        if rows.true_counts is not None:
            self._write("counts", rows.true_counts)
        self.observed.add(rows.observed)
        self.n_written += len(ids)

    def write_placeholder(self, table: pa.Table, *, n_features: int) -> None:
        """Write the placeholder row of a run without molecules (``transcripts.parquet`` only; no molecule).

        ``n_features``: the features once the placeholder's is added.
        """
        self._write("trs", table)
        self.shape = (self.shape[0], n_features)

    def close(self) -> None:
        """Finish every stream (before the observed counts are read back); a failed write raises here."""
        try:
            self._finish_writes()
        finally:
            self._pool.shutdown(wait=True)
            for stream in self.streams.values():
                stream.close()
            self.observed.close()

    def __enter__(self) -> XeniumStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def observed_ranges(self) -> Iterator[sparse.csr_matrix]:
        """The summed observed counts as CSR rows, a range of cells at a time, in order.

        A range holds about :data:`~STpuppeteer.io.xenium.observed_pairs.PAIRS_PER_MERGE` pairs
        (fewer cells when the cells hold many features); the ranges never change the matrix.
        """
        size = cells_per_range(self.observed.n_pairs, self.shape[0])
        return merged_ranges(self.observed.reader(), shape=self.shape, cells_per_range=size)

    def place(self) -> None:
        """Move the streams to their files (``ground_truth/`` must exist); drop the spilled pairs.

        A stream with no rows leaves the file the ground-truth writer put in its place.
        """
        os.replace(self.streams["trs"].path, self.folder / xc.XeniumFiles.TRANSCRIPTS)
        truth = self.folder / GROUND_TRUTH_DIR
        for name, file in (("truth", GroundTruthFiles.MOLECULES), ("counts", GroundTruthFiles.COUNTS)):
            if self.streams[name].writer is not None:
                os.replace(self.streams[name].path, truth / file)
        self.observed.path.unlink(missing_ok=True)
