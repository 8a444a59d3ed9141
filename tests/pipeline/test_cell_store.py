"""The cell store holds the same cells as ``generate_cells``, finds the same neighbours, and its
pieces (chunked GeoParquet, background parts, merged observed counts) equal their one-shot forms."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from scipy import sparse

from STpuppeteer._random import stage_rng
from STpuppeteer.config import SimulationConfig
from STpuppeteer.geometry.rings import Rings
from STpuppeteer.io.ground_truth import write_cells_parquet
from STpuppeteer.io.joins import PLATFORM_ID_COLUMNS, platform_id_columns
from STpuppeteer.io.xenium import StreamSchemas, XeniumStream, observed_pairs
from STpuppeteer.io.xenium.observed_pairs import (
    CELLS_PER_SPILL_GROUP,
    ROWS_PER_MERGE,
    ObservedPairs,
    PairSpill,
    cells_per_range,
    merged_ranges,
)
from STpuppeteer.pipeline.cell_store import CellStore
from STpuppeteer.stages.tissue import generate_cells


@pytest.fixture(scope="module")
def cells() -> tuple[SimulationConfig, gpd.GeoDataFrame, CellStore]:
    # Several 1000 µm tiles and a non-rectangular tissue (cells cut by its border).
    config = SimulationConfig(n_cells=5000, seed=11, tissue={"mask_um": [[0, 0], [3000, 0], [3000, 1200], [0, 2400]]})
    return config, generate_cells(config, stage_rng(11, "cells")), CellStore.generate(config, stage_rng(11, "cells"))


def test_store_holds_the_cells_of_generate_cells(cells):
    _, cell_gdf, store = cells
    again = store.gdf()
    pd.testing.assert_frame_equal(pd.DataFrame(cell_gdf.drop(columns=["geometry", "nucleus"])),
                                  pd.DataFrame(again.drop(columns=["geometry", "nucleus"])))
    for column in ("geometry", "nucleus"):
        assert (shapely.to_wkb(cell_gdf[column].to_numpy()) == shapely.to_wkb(again[column].to_numpy())).all()
    rows = np.array([4999, 0, 17, 17])
    assert (shapely.to_wkb(store.nucleus_polygons(rows)) == shapely.to_wkb(cell_gdf["nucleus"].to_numpy()[rows])).all()
    np.testing.assert_allclose(store.nucleus_centroid,
                               shapely.get_coordinates(shapely.centroid(cell_gdf["nucleus"].to_numpy())))
    np.testing.assert_array_equal(store.cell_bounds, shapely.bounds(cell_gdf.geometry.to_numpy()))


def test_rows_near_equals_an_str_tree(cells):
    _, cell_gdf, store = cells
    tree = shapely.STRtree(cell_gdf.geometry.to_numpy())
    rng = np.random.default_rng(0)
    for _ in range(50):
        x0, y0 = rng.uniform(-100, 3000, 2)
        box = np.array([x0, y0, x0 + rng.exponential(200), y0 + rng.exponential(200)])
        np.testing.assert_array_equal(store.rows_near(box), np.sort(tree.query(shapely.box(*box))))


def test_rings_keep_empty_polygons():
    polygons = np.array([shapely.box(0, 0, 1, 1), shapely.Polygon(), shapely.box(2, 2, 3, 4)], dtype=object)
    rings = Rings.from_polygons(polygons)
    again = rings.polygons(np.array([2, 1, 0]))
    assert again[1].is_empty
    assert again[0].equals(polygons[2]) and again[2].equals(polygons[0])
    assert np.isnan(rings.bounds()[1]).all()
    with pytest.raises(ValueError, match="hole"):
        Rings.from_polygons(np.array([shapely.box(0, 0, 4, 4).difference(shapely.box(1, 1, 2, 2))]))


def test_cells_parquet_in_chunks_reads_back_whole(cells, tmp_path):
    _, cell_gdf, store = cells
    write_cells_parquet(tmp_path / "chunked.parquet", (store.gdf(np.arange(lo, min(lo + 1234, len(store))))
                                                       for lo in range(0, len(store), 1234)))
    back = gpd.read_parquet(tmp_path / "chunked.parquet")
    assert back.geometry.name == "geometry"
    # The platforms' ids of each cell are appended, one function of cell_id (io/joins.py).
    ids = platform_id_columns(cell_gdf["cell_id"].to_numpy())
    for name in PLATFORM_ID_COLUMNS:
        assert (back[name].to_numpy() == np.asarray(ids[name])).all()
    pd.testing.assert_frame_equal(pd.DataFrame(back.drop(columns=["geometry", "nucleus", *PLATFORM_ID_COLUMNS])),
                                  pd.DataFrame(cell_gdf.drop(columns=["geometry", "nucleus"]).reset_index(drop=True)))
    for column in ("geometry", "nucleus"):
        assert (shapely.to_wkb(np.asarray(back[column].values))
                == shapely.to_wkb(cell_gdf[column].to_numpy())).all()


@pytest.mark.parametrize("size", [ROWS_PER_MERGE, 3 * CELLS_PER_SPILL_GROUP, CELLS_PER_SPILL_GROUP])
def test_merged_pairs_equal_a_sparse_sum(tmp_path, size):
    rng = np.random.default_rng(1)
    shape = (70_000, 300)  # more cells than one merge range
    parts, dense = [], sparse.csr_matrix(shape, dtype=np.int64)
    for i in range(8):
        rows, cols = rng.integers(0, shape[0], 20_000), rng.integers(0, shape[1], 20_000)
        if i == 7:  # both sides of a slice's and a range's border, and the last cell
            rows[:6] = [0, CELLS_PER_SPILL_GROUP - 1, CELLS_PER_SPILL_GROUP, ROWS_PER_MERGE - 1, ROWS_PER_MERGE,
                        shape[0] - 1]
        parts.append(ObservedPairs.of(rows, cols, n_features=shape[1]))
        dense = dense + sparse.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=shape)
    spill = PairSpill(tmp_path / "pairs.parquet")
    for part in parts:
        spill.add(part)
    spill.close()
    assert spill.n_pairs == sum(len(p.row) for p in parts)
    # Each row group lies in one slice of cells (a range of whole slices reads only its own pairs).
    meta = pq.ParquetFile(spill.path).metadata
    slices = [(meta.row_group(g).column(0).statistics.min // CELLS_PER_SPILL_GROUP,
               meta.row_group(g).column(0).statistics.max // CELLS_PER_SPILL_GROUP)
              for g in range(meta.num_row_groups)]
    n_slices = -(-shape[0] // CELLS_PER_SPILL_GROUP)
    assert all(lo == hi for lo, hi in slices) and len(slices) == n_slices * len(parts)
    ranges = list(merged_ranges(spill.reader(), shape=shape, cells_per_range=size))
    assert [r.shape[0] for r in ranges[:-1]] == [size] * (len(ranges) - 1)
    merged = sparse.vstack(ranges, format="csr")
    dense.sort_indices()
    np.testing.assert_array_equal(merged.indptr, dense.indptr)
    np.testing.assert_array_equal(merged.indices, dense.indices)  # sorted within each cell, as Xenium's h5
    np.testing.assert_array_equal(merged.data, dense.data)


def test_a_merge_range_holds_about_its_budget_of_pairs():
    # Whole slices, at least one and at most ROWS_PER_MERGE cells, the pairs near the budget.
    for n_cells in (1, 5_000, 100_000, 1_000_000):
        for per_cell in (1, 50, 130, 500, 1_300, 20_000):
            size = cells_per_range(per_cell * n_cells, n_cells, pairs_per_range=4_000_000)
            assert size % CELLS_PER_SPILL_GROUP == 0 and CELLS_PER_SPILL_GROUP <= size <= ROWS_PER_MERGE
            if CELLS_PER_SPILL_GROUP < size < ROWS_PER_MERGE:
                assert 4_000_000 - per_cell * CELLS_PER_SPILL_GROUP < size * per_cell <= 4_000_000
            elif size == ROWS_PER_MERGE:
                assert size * per_cell <= 4_000_000
            else:
                assert (size + CELLS_PER_SPILL_GROUP) * per_cell > 4_000_000
    assert cells_per_range(0, 1000) == cells_per_range(10, 0) == ROWS_PER_MERGE


@pytest.mark.parametrize("budget", [None, 200_000])
def test_the_stream_sums_ranges_of_about_its_pair_budget(tmp_path, monkeypatch, budget):
    # Cells of many features (5,000 genes: ~500 observed pairs a cell) are summed in fewer cells
    # at a time than cells of few, so the merge holds about PAIRS_PER_MERGE pairs, not 65,536 cells'.
    if budget is not None:
        monkeypatch.setattr(observed_pairs, "PAIRS_PER_MERGE", budget)
    rng = np.random.default_rng(4)
    shape, per_cell = (20_000, 400), 40
    ids = pd.DataFrame({"transcript_id": np.zeros(0, np.int64)})
    schemas = StreamSchemas.of(pa.Table.from_pandas(ids, preserve_index=False), ids, ids)
    stream = XeniumStream(tmp_path, n_cells=shape[0], n_features=shape[1], schemas=schemas)
    dense = sparse.csr_matrix(shape, dtype=np.int64)
    for lo in range(0, shape[0], 2_500):  # blocks of cells, each also landing a few molecules far away
        rows = np.concatenate([np.repeat(np.arange(lo, lo + 2_500), per_cell), rng.integers(0, shape[0], 500)])
        cols = rng.integers(0, shape[1], len(rows))
        stream.observed.add(ObservedPairs.of(rows, cols, n_features=shape[1]))
        dense = dense + sparse.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=shape)
    stream.close()
    ranges = list(stream.observed_ranges())
    size = ranges[0].shape[0]
    if budget is None:  # 8·10⁵ pairs: one range
        assert size == shape[0]
    else:  # 200,000 pairs a range at ~40 a cell: one slice of 4,096 cells
        assert size == CELLS_PER_SPILL_GROUP and len(ranges) == 5
        assert max(r.nnz for r in ranges) <= budget
    merged = sparse.vstack(ranges, format="csr")
    dense.sort_indices()
    np.testing.assert_array_equal(merged.indptr, dense.indptr)
    np.testing.assert_array_equal(merged.indices, dense.indices)
    np.testing.assert_array_equal(merged.data, dense.data)


def test_geometry_from_the_store_equals_geometry_from_polygons(cells):
    from STpuppeteer.stages.transcripts import CellGeometry

    _, cell_gdf, store = cells
    rows = np.sort(np.random.default_rng(2).choice(len(store), 700, replace=False))
    got = store.geometry(rows, thickness=10.0)
    expected = CellGeometry.from_cells(cell_gdf.iloc[rows], thickness=10.0)
    for name in ("cells", "nuclei"):
        a, b = getattr(got, name), getattr(expected, name)
        for field in ("centre", "area", "star", "vx", "vy", "start", "key", "rmin", "rmax", "cum", "test_rows"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=f"{name}.{field}")
    for field in ("radius", "z_lo", "z_hi", "bounds"):
        np.testing.assert_array_equal(getattr(got, field), getattr(expected, field))
