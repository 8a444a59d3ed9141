"""A MERSCOPE-like folder that ``spatialdata_io.merscope`` reads.

The folder holds what a MERSCOPE region folder holds:

- ``images/micron_to_mosaic_pixel_transform.csv``: the 3 × 3 affine from µm to mosaic pixels;
- ``detected_transcripts.csv``: one row per molecule, field of view by field of view and
  numbered within each (the unnamed first column), position in µm (``global_x``, ``global_y``;
  0.01 µm), focal plane index (``global_z``), pixel position within its field of view (``x``,
  ``y``, ``fov``), ``gene`` and the ``cell_id`` the instrument assigned (``-1``: none);
- ``cell_by_gene.csv`` and ``cell_metadata.csv``: counts and geometry per cell (``EntityID``);
- ``cell_boundaries.parquet``: cell polygons (µm) as WKB multipolygons, one per focal plane;
- ``images/mosaic_DAPI_z3.tif`` and ``images/mosaic_Cellbound1_z3.tif``: nuclear and membrane
  stains of the middle plane, rendered from the true nuclei and cells (optional), Deflate-compressed,
  at the config's ``images.merscope_pixel_size_um`` (default 0.432 µm: the 0.108 µm camera
  binned 4 × 4; the transform file says which);
- ``ground_truth/`` (see :mod:`STpuppeteer.io.ground_truth`) and ``manifest.json``.

The instrument's cells are the true cells and ``EntityID`` is the simulated ``cell_id``; a
molecule is assigned to the cell whose boundary contains it (``landed_cell_id``), as a
perfect segmentation would. Where the true molecule came from is in ``ground_truth/``.
Negative controls (feature names not in the gene panel) are renamed ``Blank-1`` … in
sorted order of their simulated names, which is how MERSCOPE names them; join on
``transcript_id`` for the original name.

Two deliberate departures from real files: ``transcript_id`` is the simulated molecule id
(MERSCOPE writes the gene's Ensembl transcript there) so that every molecule can be joined
with its truth, and only the middle focal plane's mosaic images are written.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from STpuppeteer._random import Stage, block_rng
from STpuppeteer.geometry.raster import MAX_PIXELS, PixelGrid, rasterize_labels
from STpuppeteer.io._merscope_constants import (
    BLANK_PREFIX,
    BOUNDARY_TYPE,
    FOV_SIZE_PX,
    MOSAIC_PIXEL_SIZE,
    MOSAIC_Z,
    N_Z_PLANES,
    UNASSIGNED_CELL,
    Z_PLANE_SPACING_UM,
    MerscopeBoundaryColumns,
    MerscopeCellColumns,
    MerscopeFiles,
    MerscopeStains,
    MerscopeTranscriptColumns,
    mosaic_name,
)
from STpuppeteer.io.atomic import atomic_output_dir
from STpuppeteer.io.ground_truth import write_ground_truth
from STpuppeteer.io.manifest import write_manifest
from STpuppeteer.io.observed import count_landed, observed_controls
from STpuppeteer.io.tables import PIXEL_DECIMALS, tissue_bounds, with_placeholder_molecule, write_csv
from STpuppeteer.io.tiff import write_tiff
from STpuppeteer.stages.image import render_from_labels

if TYPE_CHECKING:
    import geopandas as gpd

    from STpuppeteer.result import SimulationResult

__all__ = ["write_merscope"]

# Rendered around each FOV and blended with its neighbours over twice this width.
_MOSAIC_MARGIN_PX = 32


def _fov_index(
    x: np.ndarray, y: np.ndarray, *, x0: float, y0: float, fov_um: float, n_fov_cols: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    col = np.floor((x - x0) / fov_um).astype(np.int64)
    row = np.floor((y - y0) / fov_um).astype(np.int64)
    return row * n_fov_cols + col, col, row


def _transcripts(
    result: SimulationResult, names: pd.Series, *, x0: float, y0: float, pixel_size: float, n_fov_cols: int
) -> pd.DataFrame:
    trs = result.trs_df
    x, y = trs["x"].to_numpy(float), trs["y"].to_numpy(float)
    fov_um = FOV_SIZE_PX * pixel_size
    fov, col, row = _fov_index(x, y, x0=x0, y0=y0, fov_um=fov_um, n_fov_cols=n_fov_cols)
    feature = trs["feature_name"].map(names)  # a categorical maps its categories only
    plane = np.clip(np.floor(trs["z"].to_numpy(float) / Z_PLANE_SPACING_UM), 0, N_Z_PLANES - 1)
    cols = MerscopeTranscriptColumns
    df = pd.DataFrame(
        {
            cols.BARCODE_ID: pd.Index(names.to_numpy()).get_indexer(feature),
            cols.GLOBAL_X: x,
            cols.GLOBAL_Y: y,
            cols.GLOBAL_Z: plane,
            cols.X: (x - x0) / pixel_size - col * FOV_SIZE_PX,
            cols.Y: (y - y0) / pixel_size - row * FOV_SIZE_PX,
            cols.FOV: fov,
            cols.GENE: feature.array,
            cols.TRANSCRIPT_ID: trs["transcript_id"].to_numpy(),
            cols.CELL_ID: np.where(trs["landed_cell_id"].to_numpy() >= 0, trs["landed_cell_id"], UNASSIGNED_CELL),
        }
    )
    # MERSCOPE lists transcripts field of view by field of view, its unnamed first column numbering
    # them within each (unique and ascending there, not across the file).
    df = df.sort_values(cols.FOV, kind="stable")
    df.index = df.groupby(cols.FOV, sort=False).cumcount().to_numpy()
    return df


def _cell_tables(
    result: SimulationResult,
    features: np.ndarray,
    *,
    x0: float,
    y0: float,
    pixel_size: float,
    n_fov_cols: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    cells = result.cell_gdf
    cell_ids = cells["cell_id"].to_numpy()
    polygons = np.asarray(cells.geometry.values)
    counts = count_landed(result.trs_df, cell_ids, features).toarray().astype(np.int64)
    centroid = shapely.centroid(polygons)
    cx, cy = shapely.get_x(centroid), shapely.get_y(centroid)
    bounds = shapely.bounds(polygons)
    area = shapely.area(polygons)
    # Sides of the minimum rotated rectangle: its first three corners.
    corners = shapely.get_coordinates(shapely.oriented_envelope(polygons)).reshape(len(polygons), -1, 2)
    side_a = np.hypot(*(corners[:, 1] - corners[:, 0]).T)
    side_b = np.hypot(*(corners[:, 2] - corners[:, 1]).T)
    fov, _, _ = _fov_index(cx, cy, x0=x0, y0=y0, fov_um=FOV_SIZE_PX * pixel_size, n_fov_cols=n_fov_cols)
    c = MerscopeCellColumns
    index = pd.Index(cell_ids, name=c.ENTITY_ID)
    metadata = pd.DataFrame(
        {
            c.FOV: fov,
            c.VOLUME: area * result.config.tissue.section_thickness_um,
            c.CENTER_X: cx,
            c.CENTER_Y: cy,
            c.MIN_X: bounds[:, 0],
            c.MAX_X: bounds[:, 2],
            c.MIN_Y: bounds[:, 1],
            c.MAX_Y: bounds[:, 3],
            c.ANISOTROPY: np.maximum(side_a, side_b) / np.maximum(np.minimum(side_a, side_b), 1e-12),
            c.TRANSCRIPT_COUNT: counts.sum(axis=1),
            c.PERIMETER_AREA_RATIO: shapely.length(polygons) / area,
            c.SOLIDITY: area / shapely.area(shapely.convex_hull(polygons)),
        },
        index=index,
    )
    by_gene = pd.DataFrame(counts, index=index.rename(c.COUNTS_CELL), columns=features)
    return metadata, by_gene


def _boundaries(result: SimulationResult) -> gpd.GeoDataFrame:
    import geopandas as gpd

    cells = result.cell_gdf
    parts, part_of = shapely.get_parts(np.asarray(cells.geometry.values), return_index=True)
    multi = shapely.multipolygons(parts, indices=part_of)
    n = len(cells)
    plane = np.repeat(np.arange(N_Z_PLANES), n)
    b = MerscopeBoundaryColumns
    frame = pd.DataFrame(
        {
            b.ID: np.arange(n * N_Z_PLANES, dtype=np.int64),
            b.ENTITY_ID: np.tile(cells["cell_id"].to_numpy(np.int64), N_Z_PLANES),
            b.Z_INDEX: plane.astype(np.int64),
            b.TYPE: BOUNDARY_TYPE,
            b.Z_LEVEL: (plane + 1) * Z_PLANE_SPACING_UM,
            b.NAME: pd.Series([None] * (n * N_Z_PLANES), dtype=object),
            b.PARENT_ID: pd.Series([None] * (n * N_Z_PLANES), dtype=object),
            b.PARENT_TYPE: pd.Series([None] * (n * N_Z_PLANES), dtype=object),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(np.tile(multi, N_Z_PLANES)), crs=None).rename_geometry(
        b.GEOMETRY
    )


def _ramp(n: int) -> np.ndarray:
    """Blending weight across a tile of ``n`` pixels: rising over ``2 * margin`` from each edge."""
    d = np.minimum(np.arange(n), np.arange(n)[::-1]) + 0.5
    return np.minimum(1.0, d / (2 * _MOSAIC_MARGIN_PX)).astype(np.float32)


def _write_mosaics(
    result: SimulationResult, images_dir: Path, *, x0: float, y0: float, shape: tuple[int, int], pixel_size: float
) -> None:
    """Render the mosaics tile by tile and stitch them, as the instrument stitches its fields of view.

    A tile is ``FOV_SIZE_PX`` mosaic pixels wide (a field of view when the mosaic has camera pixels).
    Each tile is rendered with a margin and its own generator (memory bounded by one FOV, the
    result independent of the order), and neighbouring FOVs are blended linearly across their
    overlap, so there is no seam where one FOV's background or a split nucleus' brightness
    meets the next one's.
    """
    cells = result.cell_gdf
    polygons = np.asarray(cells.geometry.values)
    nuclei = np.asarray(cells["nucleus"].values)
    tree = shapely.STRtree(polygons)
    parent = result.stage_rng(Stage.MERSCOPE_MOSAIC)
    total = np.zeros((2, *shape), dtype=np.float32)
    weight = np.zeros(shape, dtype=np.float32)
    for r0 in range(0, shape[0], FOV_SIZE_PX):
        for c0 in range(0, shape[1], FOV_SIZE_PX):
            ra, ca = max(r0 - _MOSAIC_MARGIN_PX, 0), max(c0 - _MOSAIC_MARGIN_PX, 0)
            rb = min(r0 + FOV_SIZE_PX + _MOSAIC_MARGIN_PX, shape[0])
            cb = min(c0 + FOV_SIZE_PX + _MOSAIC_MARGIN_PX, shape[1])
            grid = PixelGrid(
                x0=x0 + ca * pixel_size, y0=y0 + ra * pixel_size, pixel_size=pixel_size, shape=(rb - ra, cb - ca)
            )
            field = shapely.box(grid.x0, grid.y0, grid.x0 + (cb - ca) * pixel_size, grid.y0 + (rb - ra) * pixel_size)
            seen = tree.query(field, predicate="intersects")
            stains = render_from_labels(
                rasterize_labels(nuclei[seen], grid),
                cell_labels=rasterize_labels(polygons[seen], grid),
                pixel_size=pixel_size,
                photons_per_count=result.config.images.photons_per_count,
                rng=block_rng(parent, (r0 // FOV_SIZE_PX, c0 // FOV_SIZE_PX)),
            )
            w = np.outer(_ramp(rb - ra), _ramp(cb - ca))
            total[:, ra:rb, ca:cb] += stains * w
            weight[ra:rb, ca:cb] += w
    total /= weight  # in place: the mosaics are the largest arrays of the whole writer
    for stain, image in zip((MerscopeStains.DAPI, MerscopeStains.CELLBOUND), total, strict=True):
        write_tiff(images_dir / mosaic_name(stain, MOSAIC_Z), np.rint(image).astype(np.uint16))


def write_merscope(
    result: SimulationResult,
    path: str | Path,
    *,
    overwrite: bool = False,
    mosaic_images: bool = True,
    pixel_size: float = MOSAIC_PIXEL_SIZE,
    ground_truth: bool = True,
    mosaic_pixel_size: float | None = None,
) -> Path:
    """Write a MERSCOPE-like region folder that ``spatialdata_io.merscope`` reads.

    Parameters
    ----------
    result
        The simulation.
    path
        The folder to create.
    overwrite
        Replace an existing ``path`` (only once the new folder is complete).
    mosaic_images
        Render the DAPI and membrane mosaics of the middle focal plane. They are the largest
        files: 1 mm² at MERSCOPE's 0.108 µm per pixel is 86 megapixels per stain.
    pixel_size
        µm per camera pixel; it sets the fields of view (2048 pixels wide) and the
        transcripts' ``x``, ``y``.
    ground_truth
        Write ``ground_truth/`` inside the folder (the CLI writes it once beside its bundles).
    mosaic_pixel_size
        µm per mosaic pixel; it sets the µm → mosaic pixel transform. ``None``: the config's
        ``images.merscope_pixel_size_um`` (0.432 µm, the camera binned 4 × 4, unless changed).

    Returns
    -------
    The folder written.

    Examples
    --------
    >>> result.write_merscope("run/region_0")  # doctest: +SKIP
    >>> import spatialdata_io  # doctest: +SKIP
    >>> sdata = spatialdata_io.merscope("run/region_0")  # doctest: +SKIP
    """
    mosaic_px = result.config.images.merscope_pixel_size_um if mosaic_pixel_size is None else mosaic_pixel_size
    for name, value in (("pixel_size", pixel_size), ("mosaic_pixel_size", mosaic_px)):
        if not value > 0:
            msg = f"{name}={value!r} is not allowed; it must be a positive number of µm."
            raise ValueError(msg)
    truth = result
    result = with_placeholder_molecule(result)  # the reader cannot read a table without rows
    xmin, ymin, xmax, ymax = tissue_bounds(result)
    shape = (math.ceil((ymax - ymin) / mosaic_px), math.ceil((xmax - xmin) / mosaic_px))
    if mosaic_images and shape[0] * shape[1] > MAX_PIXELS:
        msg = (
            f"MERSCOPE format: the mosaics of this {xmax - xmin:,.0f} × {ymax - ymin:,.0f} µm tissue at "
            f"{mosaic_px} µm per pixel would be {shape[0]} × {shape[1]} pixels, more than the {MAX_PIXELS:.0e} "
            "allowed in memory; pass mosaic_images=False, a larger mosaic_pixel_size, or simulate a smaller tissue."
        )
        raise ValueError(msg)
    n_fov_cols = math.ceil((xmax - xmin) / (FOV_SIZE_PX * pixel_size))
    transform = np.array([[1 / mosaic_px, 0, -xmin / mosaic_px], [0, 1 / mosaic_px, -ymin / mosaic_px], [0, 0, 1]])
    genes = result.gpar_df["feature_name"].astype(str).to_numpy()
    controls = observed_controls(result.trs_df, result.gpar_df["feature_name"])
    names = pd.Series(
        np.r_[genes, [f"{BLANK_PREFIX}{i + 1}" for i in range(len(controls))]], index=np.r_[genes, controls]
    )
    grid = {"x0": xmin, "y0": ymin, "pixel_size": pixel_size, "n_fov_cols": n_fov_cols}
    with atomic_output_dir(path, overwrite=overwrite) as tmp:
        images_dir = tmp / MerscopeFiles.IMAGES_DIR
        images_dir.mkdir()
        np.savetxt(images_dir / MerscopeFiles.TRANSFORM, transform, fmt="%.10g", delimiter=" ")
        camera_px = {MerscopeTranscriptColumns.X: PIXEL_DECIMALS, MerscopeTranscriptColumns.Y: PIXEL_DECIMALS}
        write_csv(_transcripts(result, names, **grid), tmp / MerscopeFiles.TRANSCRIPTS, index_label="",
                  decimals_by_column=camera_px)
        metadata, by_gene = _cell_tables(result, names.index.to_numpy(), **grid)
        by_gene.columns = names.to_numpy()
        write_csv(metadata, tmp / MerscopeFiles.CELL_METADATA, index_label=MerscopeCellColumns.ENTITY_ID)
        write_csv(by_gene, tmp / MerscopeFiles.COUNTS, index_label=MerscopeCellColumns.COUNTS_CELL)
        _boundaries(result).to_parquet(tmp / MerscopeFiles.BOUNDARIES, index=False)
        if mosaic_images:
            _write_mosaics(result, images_dir, x0=xmin, y0=ymin, shape=shape, pixel_size=mosaic_px)
        if ground_truth:
            write_ground_truth(truth, tmp)
        extra = {"pixel_size_um": pixel_size, "mosaic_pixel_size_um": mosaic_px}
        extra |= {} if len(truth.trs_df) else {"placeholder_transcript": True}
        write_manifest(tmp, result.config, fmt="merscope", extra=extra)
    return Path(path).expanduser().absolute()
