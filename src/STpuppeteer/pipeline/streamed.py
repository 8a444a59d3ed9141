"""Simulate straight into a Xenium bundle, block by block, never holding every molecule.

:func:`simulate_to_xenium` runs stages 1–2 into a :class:`~STpuppeteer.pipeline.cell_store.CellStore`
(the cells' polygons as coordinate arrays, built tile by tile), then draws the counts and
the molecules of one fixed block of cells at a time (the same blocks and keyed generators as
:func:`~STpuppeteer.stages.transcripts.generate_transcripts`, so the molecules are identical),
turns each block into rows of ``transcripts.parquet`` and ``ground_truth/molecules.parquet``
and appends them as Parquet row groups. The blocks run here (a few threads) or as
``dask.distributed`` tasks, at most a few blocks ahead of the writer.

Memory is bounded by the cell store (about 1 KB a cell) and the observed (cell, feature)
pairs (8 bytes each) plus ``max_blocks_in_flight`` blocks of molecules with their
local geometry; it does not grow with the number of molecules. See ``docs/scale.md``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import sparse

from STpuppeteer._memory import release_free_memory
from STpuppeteer._parallel import local_threads, map_blocks, thread_map
from STpuppeteer._random import Stage, block_rng, gene_rng, stage_rng
from STpuppeteer.config import SimulationConfig, as_config
from STpuppeteer.geometry.nearest_nucleus import NearestNucleus
from STpuppeteer.geometry.raster import MAX_PIXELS, PixelGrid, rasterize_labels
from STpuppeteer.geometry.wkb import polygon_wkb
from STpuppeteer.io import _xenium_constants as xc
from STpuppeteer.io.atomic import atomic_output_dir
from STpuppeteer.io.cell_ids import encode_cell_ids
from STpuppeteer.io.ground_truth import GROUND_TRUTH_DIR, CellChunk, GroundTruthFiles, _long_counts, write_ground_truth
from STpuppeteer.io.manifest import write_manifest
from STpuppeteer.io.parquet import ParquetStream
from STpuppeteer.io.xenium import (
    CellPolygons,
    FeatureMatrixH5,
    _write_boundary_files,
    _write_cells_table,
    _write_cells_zarr,
    _write_morphology,
    _write_specs,
    cell_totals,
    transcripts_table,
    xenium_features,
)
from STpuppeteer.pipeline.cell_store import CellStore
from STpuppeteer.result import SimulationResult
from STpuppeteer.stages.counts import CountModel
from STpuppeteer.stages.genes import generate_gene_parameters
from STpuppeteer.stages.image import render_from_labels
from STpuppeteer.stages.instrument import control_names
from STpuppeteer.stages.tissue import CELL_COLUMNS
from STpuppeteer.stages.transcripts import (
    MoleculeLabels,
    ambient_weights,
    cell_block_molecules,
    cell_blocks,
    leak_reach,
    locate_part,
    restrict_context,
    transcript_context,
    unlocated_background,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from dask.distributed import Client

__all__ = ["AUTO_IMAGE_PIXELS", "simulate_to_xenium"]

#: Largest morphology image (pixels) written when ``images=None``: the label masks and the
#: image need about 16 bytes per pixel, so this keeps them under about 4 GB.
AUTO_IMAGE_PIXELS = 250_000_000
_ROWS_PER_MERGE = 65_536  # cells per range when the observed counts are summed
_TRIM_EVERY = 4  # blocks (or background parts) between returns of freed memory to the system
_CELLS_PER_GROUP = 65_536  # cells per slice of the ground truth's cell file
# About this many background molecules are drawn, located and written at a time: a part is a
# run of FOV tiles, and the cells around it (their geometry, ~20 KB a cell) are built for it.
_BACKGROUND_CHUNK = 250_000


@dataclass(frozen=True)
class _Shared:
    """What every block reads (scattered once to Dask workers)."""

    model: CountModel
    ctx: Any
    store: CellStore
    reach: np.ndarray
    labels: MoleculeLabels
    cell_codes: np.ndarray
    cell_names: pa.Array
    features: pd.DataFrame
    feature_names: np.ndarray
    nearest: NearestNucleus


@dataclass(frozen=True)
class _Pairs:
    """Observed counts of some molecules as (cell row, feature, count), sorted by cell then feature."""

    row: np.ndarray
    col: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray, cols: np.ndarray, *, n_features: int) -> _Pairs:
        """Count the (row, col) pairs of the molecules."""
        if not len(rows):
            return cls(*(np.zeros(0, np.int32) for _ in range(3)))
        lo, hi = int(rows.min()), int(rows.max()) + 1
        matrix = _summed(rows - lo, cols, np.ones(len(rows), np.int32), shape=(hi - lo, n_features))
        row = np.repeat(np.arange(lo, hi, dtype=np.int32), np.diff(matrix.indptr))
        return cls(row, matrix.indices.astype(np.int32), matrix.data.astype(np.int32))

    def table(self) -> pa.Table:
        """As an Arrow table (columns ``row``, ``col``, ``count``)."""
        return pa.table({"row": self.row, "col": self.col, "count": self.count})


class _PairSpill:
    """Every block's observed pairs, spilled to a Parquet file (one row group a part) and read back by cell range.

    A slide's pairs (one per cell and detected feature: ~2·10⁸ for 10⁶ Xenium cells) would
    take gigabytes in memory. On disk each row group's statistics give its smallest and
    largest cell, so a range of cells reads only the groups that reach into it: a block's
    own, the neighbours its leaked molecules reached, and the background's.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream = ParquetStream(path)

    def add(self, pairs: _Pairs) -> None:
        """Append one part's pairs (sorted by cell), a row group per range of cells it reaches.

        A background part's cells are spread over the slide's numbering; cut at the merge's
        ranges, each range later reads only its own share instead of every such part whole.
        """
        cuts = np.arange(0, int(pairs.row.max(initial=0)) + _ROWS_PER_MERGE + 1, _ROWS_PER_MERGE)
        bounds = np.searchsorted(pairs.row, cuts)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi > lo:
                self.stream.write(_Pairs(pairs.row[lo:hi], pairs.col[lo:hi], pairs.count[lo:hi]).table())

    def close(self) -> None:
        """Finish the file (before reading it back)."""
        self.stream.close()

    def reader(self) -> Callable[[int, int], _Pairs]:
        """``read(lo, hi)``: the pairs of cells ``lo:hi`` from every part (not summed across parts)."""
        if self.stream.writer is None:
            return lambda lo, hi: _Pairs(*(np.zeros(0, np.int32) for _ in range(3)))
        file = pq.ParquetFile(self.path)
        stats = [file.metadata.row_group(i).column(0).statistics for i in range(file.num_row_groups)]
        low = np.array([st.min for st in stats])
        high = np.array([st.max for st in stats])

        def read(lo: int, hi: int) -> _Pairs:
            groups = np.flatnonzero((low < hi) & (high >= lo)).tolist()
            table = file.read_row_groups(groups) if groups else _Pairs(*(np.zeros(0, np.int32),) * 3).table()
            row = table.column("row").to_numpy()
            keep = (row >= lo) & (row < hi)
            return _Pairs(row[keep], table.column("col").to_numpy()[keep], table.column("count").to_numpy()[keep])

        return read


@dataclass
class _Block:
    """One block's rows for every streamed file, and what the writer sums over blocks."""

    molecules: pd.DataFrame
    transcripts: pa.Table
    true_counts: pd.DataFrame | None
    gene_totals: np.ndarray | None
    observed: _Pairs


def _tables(shared: _Shared, parts: list[dict[str, np.ndarray]]) -> tuple[pd.DataFrame, pa.Table, _Pairs]:
    """Ground-truth rows, ``transcripts.parquet`` rows and observed counts of some molecules."""
    frame = shared.labels.frame(parts)
    landed = np.concatenate([p["landed"] for p in parts]).astype(np.int64) if parts else np.zeros(0, np.int64)
    ctx = shared.ctx
    table = transcripts_table(frame, landed, shared.cell_names, shared.features, nearest=shared.nearest,
                              fov_size=ctx.config.instrument.fov_size_um)
    keep = (landed >= 0) & (frame["qv"].to_numpy() >= xc.QV_THRESHOLD)
    # The feature of each molecule is already in the table (its codeword index).
    cols = table.column(xc.XeniumTranscriptColumns.CODEWORD_INDEX).to_numpy()[keep]
    return frame, table, _Pairs.of(landed[keep], cols, n_features=len(shared.features))


def _rows_near(shared: _Shared, start: int, stop: int, box: np.ndarray) -> np.ndarray:
    """Rows ``start:stop`` first, then every other cell whose bounding box meets ``box``."""
    near = shared.store.rows_near(box)
    others = near[(near < start) | (near >= stop)]
    return np.concatenate([np.arange(start, stop), others]).astype(np.int64)


def _local_context(shared: _Shared, rows: np.ndarray) -> Any:  # noqa: ANN401 - the stage-4 context
    geo = shared.store.geometry(rows, thickness=shared.ctx.config.tissue.section_thickness_um)
    return restrict_context(shared.ctx, geo, rows)


def _block_task(shared: _Shared, item: tuple[int, int, np.random.Generator, np.random.Generator]) -> _Block:
    start, stop, counts_rng, trs_rng = item
    counts = shared.model.block(start, stop, counts_rng)
    # The block's own cells and every cell a leaked molecule can reach (the leak distance
    # is truncated), so the block's geometry gives exactly the whole tissue's answers.
    b = shared.store.cell_bounds[start:stop]
    halo = float(shared.reach[start:stop].max(initial=0.0))
    box = np.array([b[:, 0].min() - halo, b[:, 1].min() - halo, b[:, 2].max() + halo, b[:, 3].max() + halo])
    rows = _rows_near(shared, start, stop, box)
    local = _local_context(shared, rows)
    part = cell_block_molecules(local, 0, stop - start, trs_rng, counts=counts)
    part["row"] = part["row"] + np.int32(start)
    part["landed"] = np.where(part["landed"] >= 0, rows[part["landed"]], -1).astype(np.int32)
    frame, table, observed = _tables(shared, [part])
    return _Block(
        molecules=frame,
        transcripts=table,
        true_counts=_long_counts(counts, shared.store.frame["cell_id"].to_numpy()[start:stop], shared.feature_names),
        gene_totals=counts.sum(axis=0, dtype=np.int64),
        observed=observed,
    )


def _background_task(shared: _Shared, part: dict[str, np.ndarray]) -> _Block:
    """Locate one part of the background molecules with the cells around it, and tabulate it."""
    x, y = part["x"], part["y"]
    rows = _rows_near(shared, 0, 0, np.array([x.min(), y.min(), x.max(), y.max()]))
    located = locate_part(part, _local_context(shared, rows).geo.locator)
    located["landed"] = np.where(located["landed"] >= 0, rows[located["landed"]], -1).astype(np.int32)
    frame, table, observed = _tables(shared, [located])
    return _Block(molecules=frame, transcripts=table, true_counts=None, gene_totals=None, observed=observed)


def _thread_map(
    func: Callable[[Any, Any], Any], items: Iterable[Any], *, shared: Any, n_threads: int, window: int  # noqa: ANN401
) -> Iterator[Any]:
    """``func(shared, item)`` over ``items`` on a few threads, in order, at most ``window`` ahead."""
    return thread_map(partial(func, shared), items, n_threads=n_threads, window=window)


def simulate_to_xenium(
    config: SimulationConfig | dict[str, Any] | str | Path,
    path: str | Path,
    *,
    client: Client | None = None,
    overwrite: bool = False,
    images: bool | None = None,
    max_blocks_in_flight: int | None = None,
    blocks_per_task: int = 1,
) -> Path:
    """Simulate ``config`` into a Xenium bundle, writing the molecules block by block.

    The molecules (``transcripts.parquet`` and ``ground_truth/molecules.parquet``) are
    those of ``simulate(config)`` row for row; they are written as one Parquet row group per
    block of ``config.transcripts.block_size`` cells, so no more than
    ``max_blocks_in_flight`` blocks of molecules are ever in memory. The bundle has the
    files :func:`~STpuppeteer.io.xenium.write_xenium` writes; without ``images`` it has no
    ``morphology_focus/`` and the masks of ``cells.zarr.zip`` are empty 1 × 1 placeholders (read it with
    ``spatialdata_io.xenium(path, morphology_focus=False, cells_labels=False, nucleus_labels=False)``).

    Parameters
    ----------
    config
        A config (object, dict or YAML path).
    path
        The bundle folder to create; it appears only once complete.
    client
        A ``dask.distributed.Client``: blocks run as its tasks (same molecules).
    overwrite
        Replace an existing folder.
    images
        Write the morphology image and label masks (whole-slide rasters). ``None``: only
        when they have at most :data:`AUTO_IMAGE_PIXELS` pixels.
    max_blocks_in_flight
        Blocks computed ahead of the writer (default: one more than the threads, or twice
        the Dask workers).
    blocks_per_task
        Blocks per Dask task (only with ``client``).

    Returns
    -------
    The folder's absolute path.

    Examples
    --------
    >>> from STpuppeteer import SimulationConfig  # doctest: +SKIP
    >>> simulate_to_xenium(SimulationConfig(n_cells=100_000), "slide_xenium")  # doctest: +SKIP
    """
    config = as_config(config)
    gpar_df = generate_gene_parameters(config, gene_rng(config.seed))
    # The cells are kept as coordinates (about 1 KB a cell), not as shapely objects.
    store = CellStore.generate(config, stage_rng(config.seed, Stage.CELLS))
    release_free_memory()  # the tiles' shapely objects, freed but kept by the allocator
    frame = store.frame
    counts_rng, trs_rng = stage_rng(config.seed, Stage.COUNTS), stage_rng(config.seed, Stage.TRANSCRIPTS)
    n_cells, n_genes = len(frame), len(gpar_df)
    labels = MoleculeLabels.build(frame, gpar_df, config)
    # Every feature a molecule can carry: the genes, and the controls whose rate is not 0.
    possible = pd.DataFrame({"feature_name": pd.Categorical(_possible_features(config, labels, n_genes))})
    stand_in = SimulationResult(config=config, gpar_df=gpar_df, cell_gdf=frame,
                                count_array=np.broadcast_to(np.int32(0), (n_cells, n_genes)), trs_df=possible)
    features = xenium_features(stand_in)
    cell_codes = encode_cell_ids(frame["cell_id"].to_numpy())
    bounds = np.array([*np.nanmin(store.cell_bounds[:, :2], axis=0), *np.nanmax(store.cell_bounds[:, 2:], axis=0)])
    grid = _image_grid(bounds, images=images)
    polygons = CellPolygons(
        cell_area=frame["cell_area"].to_numpy(), nucleus_area=frame["nucleus_area"].to_numpy(),
        cell_centroid=frame[["x", "y"]].to_numpy(), nucleus_centroid=store.nucleus_centroid,
        cells=lambda lo, hi: store.cells.polygons(np.arange(lo, hi)),
        nuclei=lambda lo, hi: store.nuclei.polygons(np.arange(lo, hi)),
        cell_rings=lambda lo, hi: store.cells.gather(np.arange(lo, hi)),
        nucleus_rings=lambda lo, hi: store.nuclei.gather(np.arange(lo, hi)),
    )

    with atomic_output_dir(path, overwrite=overwrite) as tmp:
        # Whole-slide rasters need every polygon at once; they are only drawn for small slides.
        nucleus_mask = rasterize_labels(polygons.nuclei(0, n_cells), grid) if grid is not None else None
        shared = _Shared(
            model=CountModel.build(gpar_df, frame, config=config),
            ctx=transcript_context(frame, gpar_df, trs_rng, config=config, geometry=False, bounds=bounds),
            store=store,
            reach=leak_reach(frame["cell_area"].to_numpy(), config=config),
            labels=labels,
            cell_codes=cell_codes,
            cell_names=pa.array(np.asarray(cell_codes, dtype=object), type=pa.string()),
            features=features,
            feature_names=gpar_df["feature_name"].to_numpy().astype(str),
            nearest=NearestNucleus.from_source(store, centres=store.nucleus_centre, bounds=store.nuclei.bounds()),
        )
        n_threads = local_threads(config)
        items = [(start, stop, block_rng(counts_rng, b), block_rng(trs_rng, b))
                 for b, (start, stop) in enumerate(cell_blocks(n_cells, config.transcripts.block_size))]
        if client is not None:
            window = max_blocks_in_flight or 2 * max(len(client.scheduler_info()["workers"]), 1)
            blocks = map_blocks(_block_task, items, shared=shared, client=client, blocks_per_task=blocks_per_task,
                                max_tasks_in_flight=max(1, window // blocks_per_task))
        else:
            blocks = _thread_map(_block_task, items, shared=shared, n_threads=n_threads,
                                 window=max_blocks_in_flight or n_threads + 1)

        # transcripts.parquet's strings come as dictionaries; readers must see plain strings.
        streams = {name: ParquetStream(tmp / f"_stream_{name}.parquet", store_schema=name != "trs")
                   for name in ("trs", "truth", "counts")}
        observed = _PairSpill(tmp / "_stream_observed.parquet")
        gene_totals = np.zeros(n_genes, dtype=np.int64)
        n_written = 0
        try:
            for i, block in enumerate(blocks):
                n_written = _write_block(streams, block.molecules, block.transcripts, n_written)
                streams["counts"].write(block.true_counts)
                gene_totals += block.gene_totals
                observed.add(block.observed)
                del block
                if i % _TRIM_EVERY == _TRIM_EVERY - 1:
                    release_free_memory()
            # The background is drawn here, part by part, and located and tabulated on threads.
            parts = unlocated_background(shared.ctx, ambient_weights(gene_totals, config), trs_rng,
                                         max_molecules=_BACKGROUND_CHUNK)
            for i, part in enumerate(_thread_map(_background_task, parts, shared=shared, n_threads=n_threads,
                                                 window=n_threads + 1)):
                n_written = _write_block(streams, part.molecules, part.transcripts, n_written)
                observed.add(part.observed)
                del part
                if i % _TRIM_EVERY == _TRIM_EVERY - 1:
                    release_free_memory()
        finally:
            for stream in streams.values():
                stream.close()
            observed.close()
        del shared
        release_free_memory()

        # The ground truth's small files come from its own writer (with no molecules and no
        # counts, the cells a slice at a time; the streamed molecules and true counts then take
        # their places), on a thread beside the boundary files and the count matrix: none
        # needs another, and one core alone would leave the others idle.
        stand_in.trs_df = labels.frame([])
        chunks = (_cell_chunk(store, np.arange(lo, min(lo + _CELLS_PER_GROUP, n_cells)))
                  for lo in range(0, max(n_cells, 1), _CELLS_PER_GROUP))
        with ThreadPoolExecutor(max_workers=2) as pool:
            beside = [pool.submit(write_ground_truth, stand_in, tmp, cell_chunks=chunks),
                      pool.submit(_write_boundary_files, tmp, polygons, cell_codes)]
            # The cell × feature matrix goes to its file a range of cells at a time, the
            # cells' totals kept for cells.parquet (never the whole matrix in memory).
            totals: dict[str, list[np.ndarray]] = {}
            with FeatureMatrixH5(tmp / xc.XeniumFiles.CELL_FEATURE_MATRIX, cell_codes, features) as h5:
                for rows in _merged_ranges(observed.reader(), shape=(n_cells, len(features))):
                    h5.append(rows)
                    for column, values in cell_totals(rows, features).items():
                        totals.setdefault(column, []).append(values)
            os.replace(streams["trs"].path, tmp / xc.XeniumFiles.TRANSCRIPTS)
            _write_specs(tmp, stand_in, n_written)
            _write_cells_table(tmp, stand_in, cell_codes, polygons,
                               {k: np.concatenate(v)[:n_cells] for k, v in totals.items()})
            if grid is not None:
                cell_mask = rasterize_labels(polygons.cells(0, n_cells), grid)
                _write_cells_zarr(tmp, stand_in, polygons, nucleus_mask, cell_mask)
                image = render_from_labels(nucleus_mask, cell_labels=None, interior=False,
                                           pixel_size=grid.pixel_size, rng=stage_rng(config.seed, Stage.IMAGE))
                del nucleus_mask, cell_mask
                _write_morphology(tmp, image, xc.MORPHOLOGY_CHANNEL_NAMES, rng=stage_rng(config.seed, Stage.IMAGE_UUID))
                del image
            else:
                # spatialdata_io opens cells.zarr.zip for the cell ids even without labels: write it
                # with 1 × 1 empty masks (the manifest records images: false).
                empty = np.zeros((1, 1), dtype=np.uint32)
                _write_cells_zarr(tmp, stand_in, polygons, empty, empty)
            for done in beside:
                done.result()
        truth = tmp / GROUND_TRUTH_DIR
        for name, file in (("truth", GroundTruthFiles.MOLECULES), ("counts", GroundTruthFiles.COUNTS)):
            if streams[name].writer is not None:
                os.replace(streams[name].path, truth / file)
        observed.path.unlink(missing_ok=True)
        write_manifest(tmp, config, fmt="xenium", extra={"streamed": True, "images": grid is not None})
    return Path(path).expanduser().absolute()


def _cell_chunk(store: CellStore, rows: np.ndarray) -> CellChunk:
    """Rows of the true cells with their polygons as WKB, straight from the store's coordinates."""
    frame = store.frame.iloc[rows].reset_index(drop=True)
    return CellChunk(frame.drop(columns=["geometry", "nucleus"], errors="ignore"),
                     polygon_wkb(*store.cells.gather(rows)), polygon_wkb(*store.nuclei.gather(rows)), CELL_COLUMNS)


def _write_block(streams: dict[str, ParquetStream], frame: pd.DataFrame, table: pa.Table, first_id: int) -> int:
    """Append one block to the molecule files, numbering its molecules from ``first_id``."""
    ids = np.arange(first_id, first_id + len(frame), dtype=np.int64)
    frame["transcript_id"] = ids
    table = table.set_column(0, table.schema.field(0), pa.array(ids.astype(np.uint64)))
    streams["trs"].write(table)
    streams["truth"].write(frame)
    return first_id + len(frame)


def _merged_ranges(read: Callable[[int, int], _Pairs], *, shape: tuple[int, int]) -> Iterator[sparse.csr_matrix]:
    """The sum of the observed counts as CSR rows, a range of cells at a time, in order.

    ``read(lo, hi)`` gives the pairs of cells ``lo:hi`` (from any number of parts, not summed);
    no whole matrix is ever built.
    """
    n_rows, n_cols = shape
    for lo in range(0, max(n_rows, 1), _ROWS_PER_MERGE):
        hi = min(lo + _ROWS_PER_MERGE, n_rows)
        pairs = read(lo, hi)
        yield _summed(pairs.row - lo, pairs.col, pairs.count, shape=(hi - lo, n_cols))


def _summed(rows: np.ndarray, cols: np.ndarray, counts: np.ndarray, *, shape: tuple[int, int]) -> sparse.csr_matrix:
    """The CSR matrix of ``counts`` summed over repeated ``(rows, cols)``, columns sorted in each row.

    A counting sort by row (scipy's COO to CSR) instead of sorting the pairs: linear time.
    """
    matrix = sparse.csr_matrix((counts.astype(np.int32), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    return matrix


def _possible_features(config: SimulationConfig, labels: MoleculeLabels, n_genes: int) -> list[str]:
    inst = config.instrument
    rates = (inst.neg_control_probe_rate_per_um2, inst.neg_control_codeword_rate_per_um2,
             inst.unassigned_codeword_rate_per_um2)
    controls = [name for rate, kind in zip(rates, control_names(inst), strict=True) if rate > 0 for name in kind]
    return [*labels.features[:n_genes], *controls]


def _image_grid(bounds: np.ndarray, *, images: bool | None) -> PixelGrid | None:
    """The whole-slide pixel grid from the origin to the cells' ``[xmin, ymin, xmax, ymax]``, or ``None``."""
    if images is False:
        return None
    grid = PixelGrid.from_bounds((0.0, 0.0, float(bounds[2]), float(bounds[3])), pixel_size=xc.PIXEL_SIZE)
    if images is None and float(np.prod(grid.shape)) > min(AUTO_IMAGE_PIXELS, MAX_PIXELS):
        return None
    return grid
