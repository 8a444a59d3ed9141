"""Streamed Xenium bundles: the same files as the in-memory writer, written block by block."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from STpuppeteer import SimulationConfig, SpotlessSimulator
from STpuppeteer._parallel import thread_map
from STpuppeteer.pipeline.streamed import simulate_to_xenium

# Every localisation pattern and the nuclear enrichment on: their draws come from their own keyed stream.
LOCALISATION = {"nuclear_density_ratio": 1.2, "strength": 0.6,
                "pattern_mix": {"nuclear": 0.1, "cytoplasmic": 0.1, "perinuclear": 0.1, "cell_edge": 0.1,
                                "distal": 0.1, "foci": 0.1}}
CONFIG = SimulationConfig(
    seed=5,
    n_cells=600,
    leakage_by_gene=0.2,
    instrument={
        "jitter_um": 0.4,
        "ambient_rate_per_um2": 0.01,
        # high enough that every control name occurs (the streamed panel lists every name it can)
        "neg_control_probe_rate_per_um2": 0.004,
        "detection_efficiency": 0.9,
        "miscall_rate": 0.01,
        # The optics (merging decided per source cell) and the qv mixture draw keyed streams of their own.
        "jitter_z_um": 0.8,
        "min_distance_um": 1.0,
        "min_distance_z_um": 2.0,
        "qv_cap_fraction": 0.8,
        "qv_background_cap_fraction": 0.2,
        "qv_density_scale_per_um2": 1.0,
    },
    transcripts={"block_size": 128, "localisation": LOCALISATION},
)
N_BLOCKS = 5  # ceil(600 / 128)
FILES = [
    "transcripts.parquet",
    "cells.parquet",
    "cell_boundaries.parquet",
    "nucleus_boundaries.parquet",
    "ground_truth/molecules.parquet",
    "ground_truth/true_counts.parquet",
    "ground_truth/cells.parquet",
    "ground_truth/genes.parquet",
]


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory):
    result = SpotlessSimulator(CONFIG).run()
    return result, result.write_xenium(tmp_path_factory.mktemp("mem") / "bundle")


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    return simulate_to_xenium(CONFIG, tmp_path_factory.mktemp("stream") / "bundle")


@pytest.fixture(scope="module")
def streamed_no_images(tmp_path_factory):
    return simulate_to_xenium(CONFIG, tmp_path_factory.mktemp("stream_noimg") / "bundle", images=False,
                              max_blocks_in_flight=1)


def _matrix(path) -> tuple[np.ndarray, ...]:
    with h5py.File(path / "cell_feature_matrix.h5") as h5:
        m = h5["matrix"]
        return tuple(m[k][()] for k in ("barcodes", "data", "indices", "indptr", "shape"))


@pytest.mark.parametrize("name", FILES)
def test_streamed_files_equal_the_in_memory_bundle(in_memory, streamed, name):
    _, mem = in_memory
    pd.testing.assert_frame_equal(pd.read_parquet(streamed / name), pd.read_parquet(mem / name))


def test_streamed_bundle_has_the_same_files(in_memory, streamed):
    _, mem = in_memory
    files = {p.relative_to(mem) for p in mem.rglob("*")}
    assert files == {p.relative_to(streamed) for p in streamed.rglob("*")}
    for a, b in zip(_matrix(mem), _matrix(streamed), strict=True):
        np.testing.assert_array_equal(a, b)


def test_molecules_are_written_one_row_group_per_block(in_memory, streamed):
    result, _ = in_memory
    for name in ("transcripts.parquet", "ground_truth/molecules.parquet"):
        meta = pq.ParquetFile(streamed / name).metadata
        assert meta.num_row_groups == N_BLOCKS  # each block with the background tiles it owns
        assert meta.num_rows == len(result.trs_df)


def test_without_images_only_the_rasters_change(in_memory, streamed_no_images):
    _, mem = in_memory
    assert not (streamed_no_images / "morphology_focus").exists()
    a = pd.read_parquet(mem / "transcripts.parquet")
    b = pd.read_parquet(streamed_no_images / "transcripts.parquet")
    # The nearest nucleus comes from a local raster per block instead of the whole-slide
    # mask; it is aligned with it, so only a nucleus just outside the local window could differ.
    np.testing.assert_allclose(b.pop("nucleus_distance"), a.pop("nucleus_distance"), atol=1e-4)
    pd.testing.assert_frame_equal(a, b)
    for name in FILES[1:]:
        pd.testing.assert_frame_equal(pd.read_parquet(streamed_no_images / name), pd.read_parquet(mem / name))


# spatialdata warns that the table annotates labels we asked it not to read.
@pytest.mark.filterwarnings("ignore:The table is annotating 'cell_labels':UserWarning")
def test_spatialdata_io_reads_a_bundle_without_images(in_memory, streamed_no_images):
    spatialdata_io = pytest.importorskip("spatialdata_io")
    result, _ = in_memory
    sdata = spatialdata_io.xenium(streamed_no_images, morphology_focus=False, cells_labels=False,
                                  nucleus_labels=False)
    assert len(sdata.points["transcripts"].compute()) == len(result.trs_df)
    assert sdata.tables["table"].n_obs == CONFIG.n_cells


_STREAMED_FILES = ("transcripts.parquet", "ground_truth/molecules.parquet", "ground_truth/true_counts.parquet")


@pytest.mark.parametrize("worker_files", [False, True])
def test_streaming_on_dask_gives_the_same_bytes(streamed, tmp_path, monkeypatch, worker_files):
    # Each block is encoded on its worker; the client places the row groups (bytes sent back, or part
    # files the workers wrote into the output folder) and writes the footers: the files are those of
    # the single-process run, byte for byte.
    distributed = pytest.importorskip("dask.distributed")
    from STpuppeteer.io.xenium import XeniumStream

    received = []
    append = XeniumStream.append

    def spy(self, rows):
        received.append((type(rows.transcripts), type(rows.molecules)))
        append(self, rows)

    monkeypatch.setattr(XeniumStream, "append", spy)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cl,
        distributed.Client(cl) as client,
    ):
        out = simulate_to_xenium(CONFIG, tmp_path / "bundle", client=client, blocks_per_task=2,
                                 worker_files=worker_files)
    for name in _STREAMED_FILES:
        assert (out / name).read_bytes() == (streamed / name).read_bytes(), name
    kind = Path if worker_files else bytes
    assert len(received) == N_BLOCKS
    assert all(isinstance(t, type) and issubclass(t, kind) and issubclass(m, kind) for t, m in received)
    assert not (out / "_parts").exists()
    assert not list(out.rglob("_stream_*"))


def test_worker_files_need_a_client(tmp_path):
    with pytest.raises(ValueError, match="worker_files=True has Dask workers write the row groups; it needs a client"):
        simulate_to_xenium(CONFIG, tmp_path / "bundle", worker_files=True)
    assert not (tmp_path / "bundle").exists()


def test_worker_processes_write_their_parts(streamed, tmp_path):
    # Real worker processes: the blocks' part files are written by them, then moved into the files.
    distributed = pytest.importorskip("dask.distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cl,
        distributed.Client(cl) as client,
    ):
        out = simulate_to_xenium(CONFIG, tmp_path / "bundle", client=client, worker_files=True)
    for name in _STREAMED_FILES:
        assert (out / name).read_bytes() == (streamed / name).read_bytes(), name


def _offset(shared: int, item: int) -> int:
    return shared + item


@pytest.mark.parametrize(("n_threads", "window"), [(1, 1), (2, 1), (3, 2), (2, 10)])
def test_thread_map_keeps_order(n_threads, window):
    assert list(thread_map(partial(_offset, 10), range(7), n_threads=n_threads, window=window)) == list(range(10, 17))


def test_background_drawn_by_small_blocks_lands_as_in_memory(tmp_path):
    # Blocks of 40 cells own one or two background tiles each and locate them with their own geometry.
    config = CONFIG.model_copy(update={"transcripts": CONFIG.transcripts.model_copy(update={"block_size": 40})})
    out = simulate_to_xenium(config, tmp_path / "bundle", images=False)
    streamed = pd.read_parquet(out / "ground_truth/molecules.parquet")
    trs = SpotlessSimulator(config).run().trs_df
    for column in ("x", "y", "landed_cell_id", "cell_id"):
        np.testing.assert_array_equal(streamed[column].to_numpy(), trs[column].to_numpy())
    np.testing.assert_array_equal(streamed["compartment"].astype(str), trs["compartment"].astype(str))
    background = trs["origin"].isin(["ambient", "control"]).to_numpy()
    assert (background & (trs["landed_cell_id"] >= 0).to_numpy()).sum() > 50
    # The background is written beside the blocks, not after them all.
    assert np.flatnonzero(background).min() < np.flatnonzero(~background).max()


def test_auto_blocks_are_cut_alike_streamed_and_in_memory(tmp_path, monkeypatch):
    # block_size "auto" is decided from the expected gene totals in both drivers: with a budget of
    # 12,000 molecules (~70 expected a cell here) both cut blocks of 128 cells, and draw the same molecules.
    import STpuppeteer.stages.block_size as block_size

    monkeypatch.setattr(block_size, "MOLECULES_PER_BLOCK", 12_000)
    config = CONFIG.model_copy(update={"transcripts": CONFIG.transcripts.model_copy(update={"block_size": "auto"})})
    out = simulate_to_xenium(config, tmp_path / "bundle", images=False)
    assert pq.ParquetFile(out / "ground_truth/molecules.parquet").metadata.num_row_groups == N_BLOCKS
    result = SpotlessSimulator(config).run()
    mem = result.write_xenium(tmp_path / "mem")
    for name in ("ground_truth/molecules.parquet", "ground_truth/true_counts.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / name), pd.read_parquet(mem / name))
    fixed = SpotlessSimulator(CONFIG).run()  # block_size 128: the same blocks, so the same draws
    pd.testing.assert_frame_equal(result.trs_df, fixed.trs_df)


def test_a_slide_too_large_for_images_streams_without_them_by_default(tmp_path):
    # 60 cells spread over ~40 mm²: a whole-slide raster of ~9·10⁸ pixels, beyond the raster limit.
    sparse_slide = SimulationConfig(seed=2, n_cells=60, tissue={"density_per_mm2": 1.5})
    out = simulate_to_xenium(sparse_slide, tmp_path / "slide")
    assert json.loads((out / "manifest.json").read_text())["images"] is False
    assert not (out / "morphology_focus").exists()
    with pytest.raises(ValueError, match="images=True asks for a"):
        simulate_to_xenium(sparse_slide, tmp_path / "forced", images=True)
    assert not (tmp_path / "forced").exists()


def test_a_failed_row_group_write_stops_the_run_and_leaves_no_bundle(tmp_path, monkeypatch):
    # A row group that cannot be placed in its file (here the truth's third) stops the run, and the
    # atomic folder must not appear.
    from STpuppeteer.io.parquet_parts import ParquetParts

    append = ParquetParts.append
    calls = []

    def failing(self, *pieces):
        calls.append(self.path.name)
        if self.path.name == "_stream_truth.parquet" and calls.count(self.path.name) == 3:
            raise OSError("disk full (simulated)")
        append(self, *pieces)

    monkeypatch.setattr(ParquetParts, "append", failing)
    with pytest.raises(OSError, match="disk full"):
        simulate_to_xenium(CONFIG, tmp_path / "bundle", images=False)
    assert not (tmp_path / "bundle").exists()
    assert calls.count("_stream_truth.parquet") == 3
