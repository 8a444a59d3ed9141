"""Row groups encoded apart and placed in one file: the file pyarrow writes, and the data it holds."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from STpuppeteer.io.parquet import ParquetStream, writer_options
from STpuppeteer.io.parquet_footer import compose_footer, split_file
from STpuppeteer.io.parquet_parts import ParquetParts, encode_table


def _table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({
        "transcript_id": pa.array(np.arange(n, dtype=np.uint64)),
        "x": rng.random(n),
        "z": rng.random(n).astype(np.float32),
        "gene": pa.array(rng.choice(["a", "b", "c"], n)).dictionary_encode(),
        "flag": rng.random(n) < 0.3,
        "cell": rng.integers(-1, 500, n).astype(np.int32),
    })


@pytest.mark.parametrize("kwargs", [
    {"row_group_size": 30_000},
    {"row_group_size": 100_000, "compression": "none", "write_page_index": True},
    {"row_group_size": 7_000, "write_statistics": False, "store_schema": False},
])
def test_a_footer_parsed_and_composed_again_is_pyarrows_own(kwargs):
    table = _table(100_000)
    sink = io.BytesIO()
    pq.write_table(table, sink, **kwargs)
    data = sink.getvalue()
    _, footer = split_file(data)
    length = int.from_bytes(data[-8:-4], "little")
    assert len(footer.row_groups) == -(-100_000 // kwargs["row_group_size"])
    assert compose_footer(footer, list(footer.row_groups)) == data[-8 - length:]


@pytest.mark.parametrize("store_schema", [True, False])
def test_pieces_placed_in_order_give_the_bytes_of_one_writer(tmp_path, store_schema):
    # The same row groups through pyarrow's writer, and as an id piece plus the other columns encoded
    # apart: the same file, byte for byte (pages copied, offsets moved, one footer).
    table = _table(100_000, seed=1)
    stream = ParquetStream(tmp_path / "writer.parquet", store_schema=store_schema)
    with ParquetParts(tmp_path / "parts.parquet", table, store_schema=store_schema) as parts:
        for lo in range(0, len(table), 30_000):
            block = table.slice(lo, 30_000)
            stream.write(block)
            parts.append(encode_table(block.select([0]), store_schema=store_schema),
                         encode_table(block.select(range(1, 6)), store_schema=store_schema))
    stream.close()
    assert (tmp_path / "parts.parquet").read_bytes() == (tmp_path / "writer.parquet").read_bytes()


def test_every_reader_reads_the_rows_back(tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    sizes = [1_000, 0, 17, 40_000, 5]
    frames = [pd.DataFrame({"transcript_id": np.arange(n, dtype=np.int64) + sum(sizes[:k]),
                            "x": np.random.default_rng(k).random(n),
                            "gene": pd.Categorical(np.resize(["a", "b"], n), categories=["a", "b", "c"])})
              for k, n in enumerate(sizes)]
    schema = pa.Table.from_pandas(frames[0].iloc[:0], preserve_index=False).schema
    path = tmp_path / "f.parquet"
    with ParquetParts(path, frames[0].iloc[:0]) as parts:
        for frame in frames:
            parts.append(encode_table(frame[["transcript_id"]], schema=pa.schema([schema.field(0)])),
                         encode_table(frame.drop(columns="transcript_id"), schema=pa.schema(list(schema)[1:])))
    expected = pd.concat(frames, ignore_index=True)
    pd.testing.assert_frame_equal(pd.read_parquet(path), expected)
    assert pq.ParquetFile(path).metadata.num_row_groups == len(sizes)
    assert [pq.ParquetFile(path).read_row_group(k).num_rows for k in range(len(sizes))] == sizes
    pd.testing.assert_frame_equal(dd.read_parquet(path).compute().reset_index(drop=True), expected)
    # Row-group statistics (moved with their chunks) still select the right rows.
    assert ds.dataset(path).to_table(filter=ds.field("x") > 0.5).num_rows == int((expected["x"] > 0.5).sum())


def test_bad_pieces_are_refused(tmp_path):
    table = _table(100)
    two_groups = io.BytesIO()
    pq.write_table(table, two_groups, row_group_size=50, **writer_options(table.schema))
    with ParquetParts(tmp_path / "a.parquet", table) as parts:
        with pytest.raises(ValueError, match="must hold one row group; this one holds 2"):
            parts.append(two_groups.getvalue())
        with pytest.raises(ValueError, match="hold 100 and 99 rows"):
            parts.append(encode_table(table.select([0])), encode_table(table.slice(1).select(range(1, 6))))
        with pytest.raises(ValueError, match="needs 6 columns; its pieces hold 1"):
            parts.append(encode_table(table.select([0])))
        with pytest.raises(ValueError, match="not a Parquet file"):
            parts.append(b"PAR1 but no footer")
        # Refused pieces wrote nothing: the next row group is the file's first.
        parts.append(encode_table(table.select([0])), encode_table(table.select(range(1, 6))))
    assert pq.read_table(tmp_path / "a.parquet").equals(table)
