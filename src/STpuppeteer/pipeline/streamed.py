"""Simulate straight into a Xenium bundle, block by block, never holding every molecule.

:func:`simulate_to_xenium` runs stages 1–2 into a :class:`~STpuppeteer.pipeline.cell_store.CellStore`
(the cells' polygons as coordinate arrays, built tile by tile), then draws the counts and
the molecules of one fixed block of cells at a time (the same blocks and keyed generators as
:func:`~STpuppeteer.stages.transcripts.generate_transcripts`, so the molecules are identical)
and hands each block's rows to the bundle's streamed sink
(:class:`~STpuppeteer.io.xenium.XeniumStream`); the other files are written by the same
:class:`~STpuppeteer.io.xenium.XeniumBundle` as in memory. The blocks run here (a few
threads) or as ``dask.distributed`` tasks, at most a few blocks ahead of the writer.

Memory is bounded by the cell store (about 1 KB a cell) plus ``max_blocks_in_flight`` blocks
of molecules with their local geometry, and at the end a range of the observed (cell, feature)
pairs (spilled to disk while the blocks run, summed about 4·10⁶ pairs at a time); it does not
grow with the number of molecules. See ``docs/scale.md``.
"""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from STpuppeteer._memory import release_free_memory
from STpuppeteer._parallel import local_threads, map_blocks, thread_map
from STpuppeteer._random import Stage, block_rng, gene_rng, stage_rng
from STpuppeteer.config import SimulationConfig, as_config
from STpuppeteer.geometry.nearest_nucleus import NearestNucleus
from STpuppeteer.geometry.raster import MAX_PIXELS, PixelGrid, rasterize_labels
from STpuppeteer.geometry.wkb import polygon_wkb
from STpuppeteer.io.atomic import atomic_output_dir
from STpuppeteer.io.cell_ids import encode_cell_ids
from STpuppeteer.io.ground_truth import CellChunk, long_counts, write_ground_truth_files
from STpuppeteer.io.manifest import write_manifest
from STpuppeteer.io.tables import PLACEHOLDER_FEATURE
from STpuppeteer.io.xenium import (
    CellPolygons,
    EncodedRows,
    MoleculeRows,
    StreamSchemas,
    XeniumBundle,
    XeniumStream,
    check_ascii_genes,
    encode_rows,
    feature_table,
    tabulate,
    transcripts_table,
)
from STpuppeteer.io.xenium import _constants as xc
from STpuppeteer.pipeline.cell_store import CellStore
from STpuppeteer.stages.block_size import resolve_block_size
from STpuppeteer.stages.counts import CountModel
from STpuppeteer.stages.genes import generate_gene_parameters
from STpuppeteer.stages.image import render_from_labels
from STpuppeteer.stages.instrument import control_names
from STpuppeteer.stages.tissue import CELL_COLUMNS
from STpuppeteer.stages.transcripts import (
    BackgroundTiles,
    MoleculeLabels,
    TranscriptContext,
    ambient_weights,
    block_background,
    cell_block_molecules,
    cell_blocks,
    leak_reach,
    locate_part,
    restrict_context,
    transcript_context,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from dask.distributed import Client

__all__ = ["AUTO_IMAGE_PIXELS", "simulate_to_xenium"]

#: Largest morphology image (pixels) written when ``images=None``: the label masks and the
#: image need about 16 bytes per pixel, so this keeps them under about 4 GB.
AUTO_IMAGE_PIXELS = 250_000_000
_TRIM_EVERY = 4  # blocks between returns of freed memory to the system
_CELLS_PER_GROUP = 65_536  # cells per slice of the ground truth's cell file


@dataclass(frozen=True)
class _Shared:
    """What every block reads (scattered once to Dask workers)."""

    model: CountModel
    ctx: TranscriptContext
    store: CellStore
    reach: np.ndarray
    labels: MoleculeLabels
    cell_names: pa.Array
    features: pd.DataFrame
    feature_names: np.ndarray
    nearest: NearestNucleus
    #: The ambient molecules' gene weights (from the expected gene totals) and the stage's
    #: generator, whose keyed children draw the background tiles.
    weights: np.ndarray
    trs_rng: np.random.Generator
    #: The streamed files' schemas, and the folder the blocks write their encoded row groups to
    #: (``None``: they hand the bytes back).
    schemas: StreamSchemas | None = None
    part_dir: Path | None = None

    def rows(self, parts: list[dict[str, np.ndarray]]) -> MoleculeRows:
        """The streamed rows of some molecules (blocks' integer codes)."""
        frame = self.labels.frame(parts)
        landed = np.concatenate([p["landed"] for p in parts]).astype(np.int64) if parts else np.zeros(0, np.int64)
        return tabulate(frame, landed, cell_names=self.cell_names, features=self.features, nearest=self.nearest,
                        fov_size=self.ctx.config.instrument.fov_size_um)

    def encode(self, rows: MoleculeRows, start: int) -> EncodedRows:
        """A block's rows encoded where it ran (written to part files named by its first cell with ``part_dir``)."""
        prefix = None if self.part_dir is None else self.part_dir / f"block_{start:012d}"
        return encode_rows(rows, self.schemas, part_prefix=prefix)


def _rows_near(shared: _Shared, start: int, stop: int, boxes: np.ndarray) -> np.ndarray:
    """Rows ``start:stop`` first, then every other cell whose bounding box meets one of ``boxes`` (``(n, 4)``)."""
    near = np.unique(np.concatenate([shared.store.rows_near(box) for box in boxes]))
    others = near[(near < start) | (near >= stop)]
    return np.concatenate([np.arange(start, stop), others]).astype(np.int64)


def _local_context(shared: _Shared, rows: np.ndarray) -> TranscriptContext:
    geo = shared.store.geometry(rows, thickness=shared.ctx.config.tissue.section_thickness_um)
    return restrict_context(shared.ctx, geo, rows)


def _block_task(
    shared: _Shared, item: tuple[int, int, np.random.Generator, np.random.Generator, BackgroundTiles]
) -> EncodedRows:
    """One block of cells and the background tiles it owns: counts and molecules as encoded row groups."""
    start, stop, counts_rng, trs_rng, tiles = item
    counts = shared.model.block(start, stop, counts_rng)
    # The block's own cells, every cell a leaked molecule can reach (the leak distance is
    # truncated) and every cell meeting one of its background tiles, so the block's geometry
    # gives exactly the whole tissue's answers.
    b = shared.store.cell_bounds[start:stop]
    halo = float(shared.reach[start:stop].max(initial=0.0))
    box = np.array([b[:, 0].min() - halo, b[:, 1].min() - halo, b[:, 2].max() + halo, b[:, 3].max() + halo])
    tile_bounds = tiles.bounds()
    outside = ((tile_bounds[:, 0] < box[0]) | (tile_bounds[:, 1] < box[1])
               | (tile_bounds[:, 2] > box[2]) | (tile_bounds[:, 3] > box[3]))
    rows = _rows_near(shared, start, stop, np.vstack([box, tile_bounds[outside]]))
    local = _local_context(shared, rows)
    part = cell_block_molecules(local, 0, stop - start, trs_rng, counts=counts)
    part["row"] = part["row"] + np.int32(start)
    parts = [part]
    background = block_background(local, shared.weights, shared.trs_rng, tiles)
    if background is not None:
        parts.append(locate_part(background, local.geo.locator))
    for p in parts:
        p["landed"] = np.where(p["landed"] >= 0, rows[p["landed"]], -1).astype(np.int32)
    out = shared.rows(parts)
    out.true_counts = long_counts(counts, shared.store.frame["cell_id"].to_numpy()[start:stop], shared.feature_names)
    return shared.encode(out, start)


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
    worker_files: bool = False,
) -> Path:
    """Simulate ``config`` into a Xenium bundle, writing the molecules block by block.

    The molecules (``transcripts.parquet`` and ``ground_truth/molecules.parquet``) are
    those of ``simulate(config)`` row for row; they are written as one Parquet row group per
    block of ``config.transcripts.block_size`` cells (``"auto"``: chosen from the expected
    molecules and genes, :mod:`~STpuppeteer.stages.block_size`), so no more than
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
    worker_files
        With ``client``: the workers write their blocks' encoded row groups to part files in the
        output folder (which they must reach: shared storage), and this process copies their
        bytes into the files; without it they send the bytes back. Either way each block is
        encoded where it ran, and the bundle's bytes are the same.

    Returns
    -------
    The folder's absolute path.

    Examples
    --------
    >>> from STpuppeteer import SimulationConfig  # doctest: +SKIP
    >>> simulate_to_xenium(SimulationConfig(n_cells=100_000), "slide_xenium")  # doctest: +SKIP
    """
    if worker_files and client is None:
        msg = "worker_files=True has Dask workers write the row groups; it needs a client (client=None runs here)."
        raise ValueError(msg)
    config = as_config(config)
    gpar_df = generate_gene_parameters(config, gene_rng(config.seed))
    check_ascii_genes(gpar_df["feature_name"])  # before the cells, the costly part
    # The cells are kept as coordinates (about 1 KB a cell), not as shapely objects.
    store = CellStore.generate(config, stage_rng(config.seed, Stage.CELLS))
    release_free_memory()  # the tiles' shapely objects, freed but kept by the allocator
    frame = store.frame
    counts_rng, trs_rng = stage_rng(config.seed, Stage.COUNTS), stage_rng(config.seed, Stage.TRANSCRIPTS)
    n_cells, n_genes = len(frame), len(gpar_df)
    labels = MoleculeLabels.build(frame, gpar_df, config)
    # Every feature a molecule can carry: the genes, then the controls whose rate is not 0.
    feature_names = gpar_df["feature_name"].to_numpy().astype(str)
    genes = pd.Index(feature_names)
    features = feature_table(genes, np.sort(np.setdiff1d(_possible_controls(config), np.asarray(genes))))
    bounds = np.array([*np.nanmin(store.cell_bounds[:, :2], axis=0), *np.nanmax(store.cell_bounds[:, 2:], axis=0)])
    grid = _image_grid(bounds, images=images, pixel_size=config.images.xenium_pixel_size_um)
    polygons = CellPolygons(
        cell_area=frame["cell_area"].to_numpy(), nucleus_area=frame["nucleus_area"].to_numpy(),
        cell_centroid=frame[["x", "y"]].to_numpy(), nucleus_centroid=store.nucleus_centroid,
        cells=lambda lo, hi: store.cells.polygons(np.arange(lo, hi)),
        nuclei=lambda lo, hi: store.nuclei.polygons(np.arange(lo, hi)),
        cell_rings=lambda lo, hi: store.cells.gather(np.arange(lo, hi)),
        nucleus_rings=lambda lo, hi: store.nuclei.gather(np.arange(lo, hi)),
    )

    with atomic_output_dir(path, overwrite=overwrite) as tmp:
        bundle = XeniumBundle(folder=tmp, config=config, cell_ids=frame["cell_id"].to_numpy(),
                              cell_xy=frame[["x", "y"]].to_numpy(dtype=np.float64), polygons=polygons,
                              features=features, n_genes=n_genes)
        cell_codes = encode_cell_ids(bundle.cell_ids)
        # Whole-slide rasters need every polygon at once; they are only drawn for small slides.
        nucleus_mask = rasterize_labels(polygons.nuclei(0, n_cells), grid) if grid is not None else None
        model = CountModel.build(gpar_df, frame, config=config)
        expected = model.expected_gene_totals()  # the ambient genes' weights; block_size "auto" from them
        shared = _Shared(
            model=model,
            ctx=transcript_context(frame, gpar_df, trs_rng, config=config, geometry=False, bounds=bounds),
            store=store,
            reach=leak_reach(frame["cell_area"].to_numpy(), config=config),
            labels=labels,
            cell_names=pa.array(np.asarray(cell_codes, dtype=object), type=pa.string()),
            features=features,
            feature_names=feature_names,
            nearest=NearestNucleus.from_source(store, centres=store.nucleus_centre, bounds=store.nuclei.bounds()),
            weights=ambient_weights(expected, config),
            trs_rng=trs_rng,
        )
        # The files' schemas from tables without rows, fixed before any block runs.
        no_counts = long_counts(np.zeros((0, n_genes), np.int32), frame["cell_id"].to_numpy()[:0], feature_names)
        no_molecules = labels.frame([])
        schemas = StreamSchemas.of(
            transcripts_table(no_molecules, np.zeros(0, np.int64), shared.cell_names, features, nearest=shared.nearest,
                              fov_size=config.instrument.fov_size_um),
            no_molecules,
            no_counts,
        )
        part_dir = tmp / "_parts" if client is not None and worker_files else None
        if part_dir is not None:
            part_dir.mkdir()
        shared = dataclasses.replace(shared, schemas=schemas, part_dir=part_dir)
        n_threads = local_threads(config)
        size = resolve_block_size(config.transcripts.block_size, gene_totals=expected, n_cells=n_cells)
        tiles = BackgroundTiles.build(shared.ctx.bounds, centres=store.nucleus_centre, block_size=size)
        items = [(start, stop, block_rng(counts_rng, b), block_rng(trs_rng, b), tiles.of_block(b))
                 for b, (start, stop) in enumerate(cell_blocks(n_cells, size))]
        if client is not None:
            window = max_blocks_in_flight or 2 * max(len(client.scheduler_info()["workers"]), 1)
            blocks = map_blocks(_block_task, items, shared=shared, client=client, blocks_per_task=blocks_per_task,
                                max_tasks_in_flight=max(1, window // blocks_per_task))
        else:
            blocks = _thread_map(_block_task, items, shared=shared, n_threads=n_threads,
                                 window=max_blocks_in_flight or n_threads + 1)

        with XeniumStream(tmp, n_cells=n_cells, n_features=len(features), schemas=schemas) as stream:
            for i, rows in enumerate(blocks):
                stream.append(rows)
                del rows
                if i % _TRIM_EVERY == _TRIM_EVERY - 1:
                    release_free_memory()
            if stream.n_written == 0:
                bundle = _write_placeholder(stream, bundle, shared, fov_size=config.instrument.fov_size_um)
        del shared
        if part_dir is not None:
            part_dir.rmdir()  # every part was moved into its file
        release_free_memory()

        # The ground truth's small files come from its own writer (the cells a slice at a
        # time; the streamed molecules and true counts then take the places of its empty
        # ones), on a thread beside the boundary files and the count matrix: none needs
        # another, and one core alone would leave the others idle.
        chunks = (_cell_chunk(store, np.arange(lo, min(lo + _CELLS_PER_GROUP, n_cells)))
                  for lo in range(0, max(n_cells, 1), _CELLS_PER_GROUP))
        with ThreadPoolExecutor(max_workers=2) as pool:
            beside = [pool.submit(write_ground_truth_files, tmp, gpar_df=gpar_df, molecules=labels.frame([]),
                                  cell_chunks=chunks, true_counts=no_counts),
                      pool.submit(bundle.write_boundaries)]
            # The cell × feature matrix goes to its file a range of cells at a time, the
            # cells' totals kept for cells.parquet (never the whole matrix in memory).
            totals = bundle.write_feature_matrix(stream.observed_ranges())
            bundle.write_specs(stream.n_written)
            bundle.write_cells_table(totals)
            if grid is not None:
                cell_mask = rasterize_labels(polygons.cells(0, n_cells), grid)
                bundle.write_cells_zarr(nucleus_mask, cell_mask)
                image = render_from_labels(nucleus_mask, cell_labels=None, interior=False,
                                           pixel_size=grid.pixel_size,
                                           photons_per_count=config.images.photons_per_count,
                                           rng=stage_rng(config.seed, Stage.IMAGE))
                del nucleus_mask, cell_mask
                bundle.write_morphology(image, channel_names=xc.MORPHOLOGY_CHANNEL_NAMES,
                                        rng=stage_rng(config.seed, Stage.IMAGE_UUID))
                del image
            else:
                # spatialdata_io opens cells.zarr.zip for the cell ids even without labels: write it
                # with 1 × 1 empty masks (the manifest records images: false).
                empty = np.zeros((1, 1), dtype=np.uint32)
                bundle.write_cells_zarr(empty, empty)
            for done in beside:
                done.result()
        stream.place()
        extra = {"streamed": True, "images": grid is not None} | (
            {} if stream.n_written else {"placeholder_transcript": True})
        write_manifest(tmp, config, fmt="xenium", extra=extra)
    return Path(path).expanduser().absolute()


def _write_placeholder(stream: XeniumStream, bundle: XeniumBundle, shared: _Shared, *, fov_size: float) -> XeniumBundle:
    """A run without molecules: one placeholder row in ``transcripts.parquet`` (``io.tables``), its feature added."""
    names = bundle.features["feature_name"].to_numpy().astype(str)
    features = feature_table(pd.Index(names[: bundle.n_genes]),
                             np.sort(np.append(names[bundle.n_genes:], PLACEHOLDER_FEATURE)))
    frame = pd.DataFrame({"transcript_id": np.zeros(1, np.int64), "x": [0.0], "y": [0.0], "z": [0.0], "qv": [0.0],
                          "feature_name": [PLACEHOLDER_FEATURE]})
    table = transcripts_table(frame, np.array([-1]), shared.cell_names, features, nearest=shared.nearest,
                              fov_size=fov_size)
    stream.write_placeholder(table, n_features=len(features))
    return dataclasses.replace(bundle, features=features)


def _cell_chunk(store: CellStore, rows: np.ndarray) -> CellChunk:
    """Rows of the true cells with their polygons as WKB, straight from the store's coordinates."""
    frame = store.frame.iloc[rows].reset_index(drop=True)
    return CellChunk(frame.drop(columns=["geometry", "nucleus"], errors="ignore"),
                     polygon_wkb(*store.cells.gather(rows)), polygon_wkb(*store.nuclei.gather(rows)), CELL_COLUMNS)


def _possible_controls(config: SimulationConfig) -> list[str]:
    """The controls a molecule can carry: those whose rate is not 0."""
    inst = config.instrument
    rates = (inst.neg_control_probe_rate_per_um2, inst.neg_control_codeword_rate_per_um2,
             inst.unassigned_codeword_rate_per_um2)
    return [name for rate, kind in zip(rates, control_names(inst), strict=True) if rate > 0 for name in kind]


def _image_grid(bounds: np.ndarray, *, images: bool | None, pixel_size: float = xc.PIXEL_SIZE) -> PixelGrid | None:
    """The whole-slide pixel grid from the origin to the cells' ``[xmin, ymin, xmax, ymax]``, or ``None``.

    ``pixel_size`` is the config's ``images.xenium_pixel_size_um``.

    ``images=None`` draws them only up to :data:`AUTO_IMAGE_PIXELS` pixels (the size is
    checked before any grid is built); ``images=True`` beyond the raster limit is refused.
    """
    if images is False:
        return None
    n_pixels = math.ceil(float(bounds[2]) / pixel_size) * math.ceil(float(bounds[3]) / pixel_size)
    if images is None and n_pixels > min(AUTO_IMAGE_PIXELS, MAX_PIXELS):
        return None
    if n_pixels > MAX_PIXELS:
        msg = (f"images=True asks for a {n_pixels:.2e}-pixel whole-slide raster, more than the {MAX_PIXELS:.0e} "
               "allowed in memory; pass images=None (drawn only when small enough) or images=False.")
        raise ValueError(msg)
    return PixelGrid.from_bounds((0.0, 0.0, float(bounds[2]), float(bounds[3])), pixel_size=pixel_size)
