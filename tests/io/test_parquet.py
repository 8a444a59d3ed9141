"""Parquet as the writers store it: numbers packed per type, Zstandard pages, the same values back."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from STpuppeteer.io.parquet import ParquetStream, write_parquet


def _table(rng, n: int = 5_000) -> pa.Table:
    return pa.table(
        {
            "transcript_id": pa.array(range(n), pa.int64()),
            "x": pa.array(rng.uniform(0, 1000, n).astype("float32")),
            "y": pa.array(rng.uniform(0, 1000, n)),
            "feature_name": pa.array(rng.choice(["a", "b", "c"], n)),
            "is_gene": pa.array(rng.random(n) < 0.9),
        }
    )


def _encodings(path) -> dict[str, tuple[str, set[str]]]:
    meta = pq.ParquetFile(path).metadata.row_group(0)
    return {
        meta.column(i).path_in_schema: (meta.column(i).compression, set(meta.column(i).encodings))
        for i in range(meta.num_columns)
    }


def test_numbers_are_packed_strings_dictionary_encoded_and_values_unchanged(tmp_path, rng):
    table = _table(rng)
    write_parquet(table, tmp_path / "t.parquet")
    got = _encodings(tmp_path / "t.parquet")
    assert {c for c, _ in got.values()} == {"ZSTD"}
    assert "DELTA_BINARY_PACKED" in got["transcript_id"][1]
    assert "BYTE_STREAM_SPLIT" in got["x"][1] and "BYTE_STREAM_SPLIT" in got["y"][1]
    assert "RLE_DICTIONARY" in got["feature_name"][1]
    assert pq.read_table(tmp_path / "t.parquet").equals(table)
    # a running id packs to almost nothing: far below its 8 bytes a row
    assert pq.ParquetFile(tmp_path / "t.parquet").metadata.row_group(0).column(0).total_compressed_size < 1_000


def test_streamed_row_groups_and_pandas_frames_get_the_same_encodings(tmp_path, rng):
    table = _table(rng)
    stream = ParquetStream(tmp_path / "s.parquet")
    stream.write(table.slice(0, 2_000))
    stream.write(table.slice(2_000).to_pandas())
    stream.close()
    assert _encodings(tmp_path / "s.parquet") == _encodings(_write(tmp_path, table))
    assert pq.read_table(tmp_path / "s.parquet").equals(table)


def _write(folder, table: pa.Table):
    write_parquet(table.to_pandas(), folder / "p.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "p.parquet"), table.to_pandas())
    return folder / "p.parquet"
