"""Write a whole simulation held in memory as a Xenium bundle."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from STpuppeteer._random import Stage
from STpuppeteer.geometry.nearest_nucleus import NearestNucleus
from STpuppeteer.geometry.raster import rasterize_labels
from STpuppeteer.io.atomic import atomic_output_dir
from STpuppeteer.io.ground_truth import write_ground_truth
from STpuppeteer.io.manifest import write_manifest
from STpuppeteer.io.tables import with_placeholder_molecule
from STpuppeteer.io.xenium import _constants as xc
from STpuppeteer.io.xenium.bundle import XeniumBundle
from STpuppeteer.io.xenium.features import xenium_features, xenium_observed_counts
from STpuppeteer.io.xenium.images import xenium_grid
from STpuppeteer.io.xenium.polygons import CellPolygons, single_polygons
from STpuppeteer.io.xenium.transcripts import transcripts_table
from STpuppeteer.stages.image import render_from_labels

if TYPE_CHECKING:
    from STpuppeteer.result import SimulationResult

__all__ = ["write_xenium"]


def _nucleus_centres(cell_gdf: pd.DataFrame) -> np.ndarray:
    """The simulated nucleus centres (each nucleus is star-shaped about its own), else the centroids."""
    if {"nucleus_x", "nucleus_y"} <= set(cell_gdf.columns):
        return cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy(dtype=np.float64)
    return shapely.get_coordinates(shapely.centroid(np.asarray(cell_gdf["nucleus"].values)))


def write_xenium(
    result: SimulationResult,
    path: str | Path,
    *,
    overwrite: bool = False,
    multimodal: bool | None = None,
    ground_truth: bool = True,
) -> Path:
    """Write a Xenium output bundle (XOA 2.x layout) that ``spatialdata_io.xenium`` reads.

    The folder holds ``experiment.xenium``, ``transcripts.parquet``, ``cells.parquet``,
    ``cell_boundaries.parquet``, ``nucleus_boundaries.parquet``, ``cell_feature_matrix.h5``,
    ``cells.zarr.zip`` (label masks), ``morphology_focus/morphology_focus_0000.ome.tif``
    (DAPI-like image; ``_0001``–``_0003`` too with ``multimodal``: boundary, interior RNA and
    interior protein stains), ``ground_truth/`` and
    ``manifest.json``. It appears only once complete.

    What the instrument files say is what the instrument would see: a molecule's ``cell_id``
    is the cell whose (true) boundary contains it (its ``landed_cell_id``), not the cell it
    came from, and the cell-feature matrix counts the molecules each cell contains with a
    quality score of at least 20. Coordinates are the simulation's µm; the image and the
    masks start at the origin with Xenium's 0.2125 µm pixels.

    Parameters
    ----------
    result
        The simulation.
    path
        The folder to create.
    overwrite
        Replace an existing folder (only once the new one is complete).
    multimodal
        Write the four stains of Xenium's multimodal segmentation kit (DAPI, boundary, interior
        RNA, interior protein) instead of DAPI alone; ``None``: as the config's
        ``images.xenium_stains`` says (``"multimodal"`` in the Xenium presets).
    ground_truth
        Write ``ground_truth/`` inside the bundle (the CLI writes it once beside its bundles).

    Returns
    -------
    The folder's absolute path.

    Examples
    --------
    >>> from STpuppeteer import simulate  # doctest: +SKIP
    >>> out = simulate(seed=0, n_cells=300).write_xenium("sim_xenium")  # doctest: +SKIP
    >>> import spatialdata_io; sdata = spatialdata_io.xenium(out)  # doctest: +SKIP
    """
    truth = result
    result = with_placeholder_molecule(result)  # the reader cannot read a table without rows
    cell_gdf = result.cell_gdf
    cells = single_polygons(np.asarray(cell_gdf.geometry.values))
    nuclei = single_polygons(np.asarray(cell_gdf["nucleus"].values))
    features = xenium_features(result)
    counts = xenium_observed_counts(result, features)
    grid = xenium_grid(result)
    trs = result.trs_df
    if multimodal is None:
        multimodal = result.config.images.xenium_stains == "multimodal"
    with atomic_output_dir(path, overwrite=overwrite) as tmp:
        bundle = XeniumBundle(
            folder=tmp,
            config=result.config,
            cell_ids=cell_gdf["cell_id"].to_numpy(),
            cell_xy=cell_gdf[["x", "y"]].to_numpy(dtype=np.float64),
            polygons=CellPolygons.from_arrays(cells, nuclei),
            features=features,
            n_genes=len(result.gpar_df),
        )
        nucleus_mask = rasterize_labels(nuclei, grid)
        cell_mask = rasterize_labels(cells, grid)
        bundle.write_specs(len(truth.trs_df))
        landed = pd.Index(bundle.cell_ids).get_indexer(trs["landed_cell_id"].to_numpy())
        bundle.write_transcripts(
            transcripts_table(
                trs, landed, bundle.cell_codes, features,
                nearest=NearestNucleus.build(nuclei, _nucleus_centres(cell_gdf)),
                fov_size=result.config.instrument.fov_size_um,
            )
        )
        totals = bundle.write_feature_matrix([counts])
        bundle.write_cells_table(totals)
        bundle.write_boundaries()
        bundle.write_cells_zarr(nucleus_mask, cell_mask)
        image = render_from_labels(
            nucleus_mask,
            cell_labels=cell_mask if multimodal else None,
            interior=multimodal,
            pixel_size=grid.pixel_size,
            photons_per_count=result.config.images.photons_per_count,
            rng=result.stage_rng(Stage.IMAGE),
        )
        del nucleus_mask, cell_mask
        names = xc.MULTIMODAL_CHANNEL_NAMES if multimodal else xc.MORPHOLOGY_CHANNEL_NAMES
        bundle.write_morphology(image, channel_names=names, rng=result.stage_rng(Stage.IMAGE_UUID))
        del image
        if ground_truth:
            write_ground_truth(truth, tmp)
        write_manifest(tmp, result.config, fmt="xenium", extra=_placeholder_note(truth))
    return Path(path).expanduser().absolute()


def _placeholder_note(result: SimulationResult) -> dict[str, bool] | None:
    return None if len(result.trs_df) else {"placeholder_transcript": True}
