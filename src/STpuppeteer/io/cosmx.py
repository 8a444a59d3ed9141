"""A CosMx-like folder that ``spatialdata_io.cosmx`` reads.

CosMx images the tissue in fields of view (FOVs) of 4256 × 4256 pixels of 0.12028 µm
(0.51 mm) and segments each FOV on its own, so a cell crossing a FOV border becomes one
cell per FOV. The folder holds CosMx's flat files, named ``{dataset_id}_…``:

- ``exprMat_file.csv``: counts per (``fov``, ``cell_ID``), genes then negative probes
  (``NegPrb1`` …) and other controls (``SystemControl1`` …);
- ``metadata_file.csv``: per cell its area, centre in FOV-local and global pixels, size;
- ``fov_positions_file.csv``: each FOV's corner in global pixels;
- ``tx_file.csv``: one row per molecule, FOV-local and global pixels, z-slice, ``target``,
  the ``cell_ID`` the instrument assigned (0: none), ``CellComp`` and ``transcript_id``;
- ``CellLabels/CellLabels_F001.tif``: per FOV the label raster of its cells (values
  ``cell_ID``; 16-bit while they fit, Deflate), ``CellComposite/CellComposite_F001.jpg``: a composite image (DAPI in
  blue, a membrane stain in green) rendered from the true nuclei and cells, at the config's
  ``images.cosmx_composite_binning`` camera pixels a side (default 4, stored at the camera's
  resolution); both stored bottom row first, as the reader expects (it flips them);
- ``ground_truth/`` with ``instrument_cells.parquet`` mapping (``fov``, ``cell_ID``) to the
  true ``cell_id``, and ``manifest.json``.

Global pixels are µm / 0.12028 from the simulation's origin; local pixels count from the
FOV's corner. FOVs are laid on a grid that covers the tissue, overlapping when the tissue is
not a whole number of FOVs wide (as users place them); each point of the tissue belongs to
the FOV whose centre is nearest along each axis. A cell of the instrument is a true cell cut
to the part of the tissue its FOV owns, and a molecule is assigned to the cell containing it
(``landed_cell_id``), as a perfect per-FOV segmentation would. A FOV owning fewer than three
cells is left out (not imaged): the reader fits each FOV's pixel transform to three or more
cell centres.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from STpuppeteer.io._cosmx_constants import (
    CELL_COMPARTMENT,
    DATASET_ID,
    FOV_SIZE_PX,
    MIN_CELLS_PER_FOV,
    NEG_PROBE_PREFIX,
    PIXEL_SIZE,
    SIM_NEG_PROBE_PREFIX,
    SYSTEM_CONTROL_PREFIX,
    Z_SLICE_UM,
    CosmxCellColumns,
    CosmxFiles,
    CosmxFovColumns,
    CosmxTranscriptColumns,
    cell_names,
)
from STpuppeteer.io.atomic import atomic_output_dir
from STpuppeteer.io.cosmx_fovs import FovLayout
from STpuppeteer.io.cosmx_images import write_fov_images
from STpuppeteer.io.ground_truth import write_ground_truth, write_instrument_cells
from STpuppeteer.io.manifest import write_manifest
from STpuppeteer.io.observed import observed_controls
from STpuppeteer.io.tables import PIXEL_DECIMALS, tissue_bounds, write_csv

if TYPE_CHECKING:
    from STpuppeteer.result import SimulationResult

__all__ = ["FovLayout", "cosmx_feature_names", "write_cosmx"]

_INSTRUMENT_CELLS_NOTE = (
    "CosMx segments each field of view on its own: a true cell crossing a FOV border is one "
    "instrument cell per FOV, each the part of the true cell that FOV owns."
)


def cosmx_feature_names(controls: np.ndarray) -> np.ndarray:
    """CosMx names of the simulated controls: ``NegPrb1`` … for negative probes, ``SystemControl1`` … else.

    Parameters
    ----------
    controls
        Simulated control names, sorted.

    Returns
    -------
    Their CosMx names, in the same order.
    """
    controls = np.asarray(controls, dtype=str)
    is_neg = np.char.startswith(controls, SIM_NEG_PROBE_PREFIX)
    names = np.empty(len(controls), dtype=object)
    names[is_neg] = [f"{NEG_PROBE_PREFIX}{i + 1}" for i in range(int(is_neg.sum()))]
    names[~is_neg] = [f"{SYSTEM_CONTROL_PREFIX}{i + 1}" for i in range(int((~is_neg).sum()))]
    return names.astype(str)


def _cell_pieces(result: SimulationResult, layout: FovLayout) -> pd.DataFrame:
    """The instrument's cells: each true cell cut to the part of the plane each FOV owns."""
    polygons = np.asarray(result.cell_gdf.geometry.values)
    owned = layout.owned()
    fov_idx, cell_idx = shapely.STRtree(polygons).query(owned, predicate="intersects")
    pieces = shapely.intersection(polygons[cell_idx], owned[fov_idx])
    # Keep the polygonal parts only: a cell touching a cut leaves a line there.
    parts, part_of = shapely.get_parts(pieces, return_index=True)
    polygonal = shapely.area(parts) > 0
    keep = np.unique(part_of[polygonal])
    pieces = shapely.multipolygons(parts[polygonal], indices=np.searchsorted(keep, part_of[polygonal]))
    frame = pd.DataFrame(
        {
            "fov": fov_idx[keep] + 1,
            "cell_id": result.cell_gdf["cell_id"].to_numpy()[cell_idx[keep]],
            "geometry": pieces,
        }
    ).sort_values(["fov", "cell_id"], kind="stable", ignore_index=True)
    # Fewer than three cells do not determine the FOV's transform in the reader: not imaged.
    n_per_fov = frame.groupby("fov")["cell_id"].transform("size")
    frame = frame[n_per_fov >= MIN_CELLS_PER_FOV].reset_index(drop=True)
    frame["cell_ID"] = frame.groupby("fov").cumcount() + 1
    frame["cell"] = cell_names(frame["fov"].to_numpy(), frame["cell_ID"].to_numpy())
    return frame


def _metadata(pieces: pd.DataFrame, counts: np.ndarray, layout: FovLayout) -> pd.DataFrame:
    geometry = pieces["geometry"].to_numpy()
    p = layout.pixel_size
    centroid = shapely.centroid(geometry)
    cx, cy = shapely.get_x(centroid), shapely.get_y(centroid)
    corner = layout.corners()[pieces["fov"].to_numpy() - 1]
    bounds = shapely.bounds(geometry)
    width, height = (bounds[:, 2] - bounds[:, 0]) / p, (bounds[:, 3] - bounds[:, 1]) / p
    c = CosmxCellColumns
    return pd.DataFrame(
        {
            c.FOV: pieces["fov"].to_numpy(),
            c.CELL_ID: pieces["cell_ID"].to_numpy(),
            c.CELL: pieces["cell"].to_numpy(),
            c.AREA: np.rint(shapely.area(geometry) / p**2).astype(np.int64),
            c.ASPECT_RATIO: width / np.maximum(height, 1e-12),
            c.X_LOCAL: (cx - corner[:, 0]) / p,
            c.Y_LOCAL: (cy - corner[:, 1]) / p,
            c.X_GLOBAL: cx / p,
            c.Y_GLOBAL: cy / p,
            c.WIDTH: width,
            c.HEIGHT: height,
            c.N_COUNT: counts.sum(axis=1),
            c.N_FEATURE: (counts > 0).sum(axis=1),
        }
    )


def _transcripts(
    result: SimulationResult, pieces: pd.DataFrame, layout: FovLayout, names: pd.Series
) -> tuple[pd.DataFrame, np.ndarray]:
    """The tx file, and for each of its rows the row of ``pieces`` it is assigned to (-1: none)."""
    trs = result.trs_df
    x, y = trs["x"].to_numpy(float), trs["y"].to_numpy(float)
    fov, x_local, y_local = layout.locate(x, y)
    imaged = np.isin(fov, pieces["fov"].to_numpy())
    key = pd.MultiIndex.from_arrays([pieces["fov"].to_numpy(), pieces["cell_id"].to_numpy()])
    piece = key.get_indexer(pd.MultiIndex.from_arrays([fov, trs["landed_cell_id"].to_numpy()]))
    cell_id = np.where(piece >= 0, pieces["cell_ID"].to_numpy()[piece], 0)
    compartment = trs["compartment"].astype(str).map(CELL_COMPARTMENT).fillna("None").to_numpy()
    t = CosmxTranscriptColumns
    df = pd.DataFrame(
        {
            t.FOV: fov,
            t.CELL_ID: cell_id,
            t.CELL: np.where(piece >= 0, pieces["cell"].to_numpy()[piece], "0"),
            t.X_LOCAL: x_local,
            t.Y_LOCAL: y_local,
            t.X_GLOBAL: x / layout.pixel_size,
            t.Y_GLOBAL: y / layout.pixel_size,
            t.Z: np.floor(trs["z"].to_numpy(float) / Z_SLICE_UM).astype(np.int64),
            # A categorical maps its categories only, and stays one.
            t.TARGET: trs["feature_name"].map(names).array,
            t.CELL_COMP: np.where(cell_id > 0, compartment, "None"),
            t.TRANSCRIPT_ID: trs["transcript_id"].to_numpy(),
        }
    )[imaged]
    order = np.argsort(df[t.FOV].to_numpy(), kind="stable")
    return df.iloc[order].reset_index(drop=True), piece[imaged][order]


def _counts(tx: pd.DataFrame, piece: np.ndarray, n_pieces: int, features: np.ndarray) -> np.ndarray:
    col = pd.Index(features).get_indexer(tx[CosmxTranscriptColumns.TARGET].to_numpy())
    keep = (piece >= 0) & (col >= 0)
    flat = np.bincount(piece[keep] * len(features) + col[keep], minlength=n_pieces * len(features))
    return flat.reshape(n_pieces, len(features))


def write_cosmx(
    result: SimulationResult,
    path: str | Path,
    *,
    overwrite: bool = False,
    dataset_id: str = DATASET_ID,
    composite_images: bool = True,
    fov_size_px: int = FOV_SIZE_PX,
    pixel_size: float = PIXEL_SIZE,
    ground_truth: bool = True,
    composite_binning: int | None = None,
) -> Path:
    """Write a CosMx-like folder that ``spatialdata_io.cosmx`` reads.

    Parameters
    ----------
    result
        The simulation.
    path
        The folder to create.
    overwrite
        Replace an existing ``path`` (only once the new folder is complete).
    dataset_id
        Prefix of the flat files' names (the reader infers it from the exprMat file).
    composite_images
        Render each FOV's composite image (the label rasters are always written).
    fov_size_px
        Side of a FOV in pixels (CosMx: 4256).
    pixel_size
        µm per pixel (CosMx: 0.12028).
    ground_truth
        Write ``ground_truth/`` inside the folder; without it only ``ground_truth/instrument_cells.parquet``
        (the CLI writes the rest once beside its bundles).
    composite_binning
        Render the composites at one pixel per ``composite_binning`` × ``composite_binning`` camera
        pixels (stored at the camera's resolution); ``None``: the config's ``images.cosmx_composite_binning``.

    Returns
    -------
    The folder written.

    Examples
    --------
    >>> result.write_cosmx("cosmx_run")  # doctest: +SKIP
    >>> import spatialdata_io  # doctest: +SKIP
    >>> sdata = spatialdata_io.cosmx("cosmx_run")  # doctest: +SKIP
    """
    if not pixel_size > 0:
        msg = f"pixel_size={pixel_size!r} is not allowed; it must be a positive number of µm."
        raise ValueError(msg)
    if fov_size_px < 16:
        msg = f"fov_size_px={fov_size_px!r} is not allowed; a field of view must be at least 16 pixels wide."
        raise ValueError(msg)
    binning = result.config.images.cosmx_composite_binning if composite_binning is None else composite_binning
    if isinstance(binning, bool) or not isinstance(binning, int | np.integer) or not 1 <= binning <= 16:
        msg = f"composite_binning={binning!r} is not allowed; it must be a whole number of camera pixels, 1 to 16."
        raise ValueError(msg)
    if not dataset_id or "/" in dataset_id or dataset_id != dataset_id.strip():
        msg = f"dataset_id={dataset_id!r} is not allowed; use a non-empty file-name prefix without '/'."
        raise ValueError(msg)
    layout = FovLayout.covering(tissue_bounds(result), size_px=fov_size_px, pixel_size=pixel_size)
    genes = result.gpar_df["feature_name"].astype(str).to_numpy()
    controls = observed_controls(result.trs_df, result.gpar_df["feature_name"])
    # Negative probes first, then the other controls, as CosMx orders its columns.
    controls = controls[np.argsort(~np.char.startswith(controls.astype(str), SIM_NEG_PROBE_PREFIX), kind="stable")]
    names = pd.Series(np.r_[genes, cosmx_feature_names(controls)], index=np.r_[genes, controls])
    pieces = _cell_pieces(result, layout)
    if pieces.empty:
        fov_um = fov_size_px * pixel_size
        msg = (
            f"CosMx format: no field of view ({fov_um:.0f} µm square) holds {MIN_CELLS_PER_FOV} cells or more "
            f"(this run has {len(result.cell_gdf)} cells), and spatialdata_io.cosmx places each field of view from "
            f"its cells; simulate at least {MIN_CELLS_PER_FOV} cells (n_cells) at a density that puts "
            f"{MIN_CELLS_PER_FOV} in a field of view (tissue.density_per_mm2), or write another format."
        )
        raise ValueError(msg)
    tx, piece_of_tx = _transcripts(result, pieces, layout, names)
    counts = _counts(tx, piece_of_tx, len(pieces), names.to_numpy())
    c = CosmxCellColumns
    expr = pd.concat(
        [
            pieces[["fov", "cell_ID"]].rename(columns={"fov": c.FOV, "cell_ID": c.CELL_ID}),
            pd.DataFrame(counts, columns=names.to_numpy()),
        ],
        axis=1,
    )
    fov_corners = layout.corners()[np.unique(pieces["fov"]) - 1]
    fov_positions = pd.DataFrame(
        {
            CosmxFovColumns.FOV: np.unique(pieces["fov"]),
            CosmxFovColumns.X_GLOBAL: fov_corners[:, 0] / pixel_size,
            CosmxFovColumns.Y_GLOBAL: fov_corners[:, 1] / pixel_size,
        }
    )
    instrument_cells = pieces[["fov", "cell_ID", "cell", "cell_id"]]
    with atomic_output_dir(path, overwrite=overwrite) as tmp:
        write_fov_images(result, pieces, layout, tmp, composite=composite_images, binning=int(binning))
        # Every float of CosMx's files is in camera pixels (or a ratio of them).
        write_csv(expr, tmp / f"{dataset_id}_{CosmxFiles.COUNTS}")
        write_csv(_metadata(pieces, counts, layout), tmp / f"{dataset_id}_{CosmxFiles.METADATA}",
                  decimals=PIXEL_DECIMALS)
        write_csv(fov_positions, tmp / f"{dataset_id}_{CosmxFiles.FOV_POSITIONS}", decimals=PIXEL_DECIMALS)
        write_csv(tx, tmp / f"{dataset_id}_{CosmxFiles.TRANSCRIPTS}", decimals=PIXEL_DECIMALS)
        if ground_truth:
            write_ground_truth(result, tmp, instrument_cells=instrument_cells,
                               instrument_cells_note=_INSTRUMENT_CELLS_NOTE)
        else:
            write_instrument_cells(tmp, instrument_cells, note=_INSTRUMENT_CELLS_NOTE)
        write_manifest(
            tmp,
            result.config,
            fmt="cosmx",
            extra={"pixel_size_um": pixel_size, "fov_size_px": fov_size_px, "dataset_id": dataset_id,
                   "composite_binning": int(binning)},
        )
    return Path(path).expanduser().absolute()
