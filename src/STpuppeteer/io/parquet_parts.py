"""One Parquet file from row groups encoded elsewhere: by block workers, a column set at a time.

A streamed run's blocks are drawn on threads or Dask workers. Each encodes its rows where it
ran (:func:`encode_table`: a whole one-row-group Parquet file, with the encodings of
:mod:`STpuppeteer.io.parquet`) and hands over those bytes, or writes them to a part file;
:class:`ParquetParts` copies their pages into the final file in block order and writes one
footer over them all (:mod:`STpuppeteer.io.parquet_footer`), so no table is decoded or encoded
again where the file is assembled. A row group may come in pieces, each a file of some of its
columns, in the column order: the molecule tables' ``transcript_id`` runs on from the blocks
before, which only the assembler knows, so it encodes that column itself and the block the rest.

The footer's schema and key-value metadata (the stored Arrow schema) are those of a template
table with every column; the blocks cast their tables to its schema before encoding, so every
row group's column types are the template's. The bytes depend only on the blocks' rows and
their order: the same on one thread, several or on Dask workers.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from STpuppeteer.io.parquet import as_table, writer_options
from STpuppeteer.io.parquet_footer import PAR1, RowGroup, compose_footer, split_file

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

__all__ = ["ParquetParts", "encode_table"]


def encode_table(data: pa.Table | pd.DataFrame, *, schema: pa.Schema | None = None, store_schema: bool = True) -> bytes:
    """``data`` as the bytes of a one-row-group Parquet file, in memory.

    Parameters
    ----------
    data
        An Arrow table or a pandas data frame (its index dropped).
    schema
        Cast to this schema first (a template's, or the columns of it this piece holds).
    store_schema
        Store the Arrow schema in the footer.

    Returns
    -------
    The file's bytes.
    """
    table = as_table(data)
    if schema is not None and table.schema != schema:
        table = table.cast(schema)
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=max(len(table), 1), store_schema=store_schema,
                   **writer_options(table.schema))
    return sink.getvalue()


class ParquetParts:
    """A Parquet file assembled from encoded row groups (a context manager).

    Parameters
    ----------
    path
        The file to write; created on the first :meth:`append`.
    template
        A table (no rows needed) with every column of the file, in order: the footer's schema.
    store_schema
        Store the Arrow schema (dictionary columns then read back as dictionaries).
    """

    def __init__(self, path: Path, template: pa.Table | pd.DataFrame, *, store_schema: bool = True) -> None:
        self.path = path
        table = as_table(template)
        self.schema = table.schema
        self._template = split_file(encode_table(table.slice(0, 0), store_schema=store_schema))[1]
        self._file: io.BufferedWriter | None = None
        self._groups: list[RowGroup] = []

    @property
    def n_row_groups(self) -> int:
        """Row groups appended so far."""
        return len(self._groups)

    def append(self, *pieces: bytes) -> None:
        """Append one row group made of ``pieces``: encoded files of its columns, in the file's column order.

        The pieces are checked before any byte is written: one row group each, the same rows, and
        together every column of the file.
        """
        split = [split_file(piece) for piece in pieces]
        for _, footer in split:
            if len(footer.row_groups) != 1:
                msg = f"a piece of a row group must hold one row group; this one holds {len(footer.row_groups)}"
                raise ValueError(msg)
        rows = [footer.row_groups[0].num_rows for _, footer in split]
        if len(set(rows)) > 1:
            msg = f"the pieces of a row group hold {' and '.join(map(str, rows))} rows"
            raise ValueError(msg)
        n_columns = sum(len(footer.row_groups[0].columns) for _, footer in split)
        if n_columns != len(self.schema):
            msg = f"a row group of {self.path.name} needs {len(self.schema)} columns; its pieces hold {n_columns}"
            raise ValueError(msg)
        if self._file is None:
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()
            self._file.write(PAR1)
        columns = []
        for pages, footer in split:
            # The piece's pages began at byte 4 of its own file.
            shift = self._file.tell() - len(PAR1)
            self._file.write(pages)
            columns += [chunk.shifted(shift) for chunk in footer.row_groups[0].columns]
        self._groups.append(RowGroup(tuple(columns), rows[0] if rows else 0, ()))

    def close(self) -> None:
        """Write the footer; nothing happens if nothing was appended."""
        if self._file is not None:
            self._file.write(compose_footer(self._template, self._groups))
            self._file.close()
            self._file = None

    def abort(self) -> None:
        """Close the file without a footer (a failed run's; its folder is discarded)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ParquetParts:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

