"""The streamed sink of a Xenium bundle: molecule rows appended block by block.

A driver that draws a slide block by block (:func:`~STpuppeteer.pipeline.streamed.simulate_to_xenium`)
turns each block into :class:`MoleculeRows` with :func:`tabulate` and encodes them with
:func:`encode_rows`, both where the block ran (a thread or a Dask worker, which may write the
encoded row groups to part files); a :class:`XeniumStream` then places each block's row groups
in ``transcripts.parquet`` and the ground truth's molecules and true counts
(:class:`~STpuppeteer.io.parquet_parts.ParquetParts`: the pages copied, one footer written)
and spills the observed counts. It encodes only the molecules' ``transcript_id``, which runs on
from the blocks before. The rest of the bundle is written through
:class:`~STpuppeteer.io.xenium.bundle.XeniumBundle` as in memory.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from STpuppeteer.io.ground_truth import GROUND_TRUTH_DIR, GroundTruthFiles
from STpuppeteer.io.parquet import as_table
from STpuppeteer.io.parquet_parts import ParquetParts, encode_table
from STpuppeteer.io.xenium import _constants as xc
from STpuppeteer.io.xenium.observed_pairs import ObservedPairs, PairSpill, cells_per_range, merged_ranges
from STpuppeteer.io.xenium.transcripts import transcripts_table

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd
    from scipy import sparse

    from STpuppeteer.geometry.nearest_nucleus import NearestNucleus

__all__ = ["EncodedRows", "MoleculeRows", "StreamSchemas", "XeniumStream", "encode_rows", "tabulate"]

#: The molecule tables' first column, numbered by the stream across blocks.
_ID = "transcript_id"


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


@dataclass(frozen=True)
class StreamSchemas:
    """The Arrow schemas of the streamed files, fixed before any block runs (every block is cast to them).

    Attributes
    ----------
    transcripts, molecules, true_counts
        Schemas of ``transcripts.parquet``, the truth's ``molecules.parquet`` and ``true_counts.parquet``.
    """

    transcripts: pa.Schema
    molecules: pa.Schema
    true_counts: pa.Schema

    @classmethod
    def of(cls, transcripts: pa.Table, molecules: pd.DataFrame, true_counts: pd.DataFrame) -> StreamSchemas:
        """From tables (no rows needed) with every column of each file."""
        return cls(transcripts.schema, as_table(molecules).schema, as_table(true_counts).schema)

    def templates(self) -> dict[str, pa.Table]:
        """An empty table of each file's schema, by stream name."""
        return {name: schema.empty_table() for name, schema in self._by_name().items()}

    def _by_name(self) -> dict[str, pa.Schema]:
        return {"trs": self.transcripts, "truth": self.molecules, "counts": self.true_counts}


def _without_id(schema: pa.Schema) -> pa.Schema:
    if schema.names[0] != _ID:
        msg = f"a streamed molecule table must begin with {_ID!r}; this one begins with {schema.names[0]!r}"
        raise ValueError(msg)
    return pa.schema(list(schema)[1:], metadata=schema.metadata)


#: Which streamed files store their Arrow schema (``transcripts.parquet``'s strings must read back as strings).
_STORE_SCHEMA = {"trs": False, "truth": True, "counts": True}


@dataclass
class EncodedRows:
    """One block's rows, encoded where the block ran: Parquet bytes (or part files) of each streamed file.

    Attributes
    ----------
    n_molecules
        The block's molecules (rows of ``transcripts`` and ``molecules``).
    transcripts, molecules
        One-row-group Parquet files of every column but ``transcript_id``: their bytes, or the
        path of the part file a worker wrote them to.
    true_counts
        The same of the block's true counts, every column (``None``: none).
    observed
        The molecules' observed (cell, feature, count) pairs.
    """

    n_molecules: int
    transcripts: bytes | Path
    molecules: bytes | Path
    true_counts: bytes | Path | None
    observed: ObservedPairs


def encode_rows(rows: MoleculeRows, schemas: StreamSchemas, *, part_prefix: Path | None = None) -> EncodedRows:
    """Encode one block's rows for :meth:`XeniumStream.append` (where the block ran).

    Parameters
    ----------
    rows
        The block's rows (:func:`tabulate`, with its true counts).
    schemas
        The files' schemas; each table is cast to its own.
    part_prefix
        Write each file's bytes to ``<part_prefix>_<file>.parquet`` (shared storage) and hand over
        the paths; ``None``: hand over the bytes.
    """
    # The three files on threads of their own: pyarrow encodes without the GIL, so a block's files
    # encode at once, beside the other blocks' Python work (as the stream's writer threads did).
    jobs = {
        "trs": (rows.transcripts.drop_columns([_ID]), _without_id(schemas.transcripts)),
        "truth": (rows.molecules.drop(columns=[_ID]), _without_id(schemas.molecules)),
        "counts": None if rows.true_counts is None else (rows.true_counts, schemas.true_counts),
    }
    futures = {
        name: _encoders().submit(encode_table, job[0], schema=job[1], store_schema=_STORE_SCHEMA[name])
        for name, job in jobs.items()
        if job is not None
    }
    pieces: dict[str, bytes | None] = {name: None for name in jobs} | {n: f.result() for n, f in futures.items()}
    placed: dict[str, bytes | Path | None] = dict(pieces)
    if part_prefix is not None:
        for name, data in pieces.items():
            if data is not None:
                placed[name] = part_prefix.with_name(f"{part_prefix.name}_{name}.parquet")
                placed[name].write_bytes(data)
    return EncodedRows(len(rows.molecules), placed["trs"], placed["truth"], placed["counts"], rows.observed)


@functools.cache
def _encoders() -> ThreadPoolExecutor:
    """The process's encoding threads, one per streamed file (created on first use)."""
    return ThreadPoolExecutor(max_workers=len(_STORE_SCHEMA), thread_name_prefix="stpuppeteer-encode")


def _bytes_of(piece: bytes | Path) -> bytes:
    """A piece's bytes; a part file is read and removed (its bytes now belong to the stream)."""
    if isinstance(piece, Path):
        data = piece.read_bytes()
        piece.unlink()
        return data
    return piece


class XeniumStream:
    """The molecule files of a bundle being streamed, a block's row groups at a time (a context manager).

    Parameters
    ----------
    folder
        The bundle's (temporary) folder; the streams are written beside the files they become.
    n_cells, n_features
        Shape of the observed count matrix.
    schemas
        The streamed files' schemas (the footers'; every block is cast to them).
    """

    def __init__(self, folder: Path, *, n_cells: int, n_features: int, schemas: StreamSchemas) -> None:
        self.folder = folder
        self.shape = (n_cells, n_features)
        self.schemas = schemas
        self.streams = {
            name: ParquetParts(folder / f"_stream_{name}.parquet", template, store_schema=_STORE_SCHEMA[name])
            for name, template in schemas.templates().items()
        }
        self.observed = PairSpill(folder / "_stream_observed.parquet")
        self.n_written = 0

    def _ids(self, name: str, n: int) -> bytes:
        """The ``transcript_id`` column of the next ``n`` molecules, encoded alone (the rows' first piece)."""
        field = self.streams[name].schema.field(_ID)
        ids = pa.array(np.arange(self.n_written, self.n_written + n, dtype=np.int64)).cast(field.type)
        return encode_table(pa.table({_ID: ids}), schema=pa.schema([field]), store_schema=_STORE_SCHEMA[name])

    def append(self, rows: EncodedRows) -> None:
        """Append one block's row groups, numbering its molecules after those written before."""
        n = rows.n_molecules
        self.streams["trs"].append(self._ids("trs", n), _bytes_of(rows.transcripts))
        self.streams["truth"].append(self._ids("truth", n), _bytes_of(rows.molecules))
        if rows.true_counts is not None:
            self.streams["counts"].append(_bytes_of(rows.true_counts))
        self.observed.add(rows.observed)
        self.n_written += n

    def write_placeholder(self, table: pa.Table, *, n_features: int) -> None:
        """Write the placeholder row of a run without molecules (``transcripts.parquet`` only; no molecule).

        ``n_features``: the features once the placeholder's is added.
        """
        self.streams["trs"].append(encode_table(table, schema=self.schemas.transcripts, store_schema=False))
        self.shape = (self.shape[0], n_features)

    def close(self) -> None:
        """Finish every stream (before the observed counts are read back)."""
        try:
            for stream in self.streams.values():
                stream.close()
        finally:
            self.observed.close()

    def __enter__(self) -> XeniumStream:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            for stream in self.streams.values():
                stream.abort()
            self.observed.close()

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
            if self.streams[name].n_row_groups:
                os.replace(self.streams[name].path, truth / file)
        self.observed.path.unlink(missing_ok=True)
