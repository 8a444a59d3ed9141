"""A simulation as a :class:`spatialdata.SpatialData`, and its ``.zarr`` store.

Unlike the instrument bundles, this view keeps the truth: the points carry every column of
``trs_df`` (``cell_id`` is the true source cell), the shapes are the true polygons, the
table is :meth:`~STpuppeteer.result.SimulationResult.to_anndata` (the observed counts, by
landed cell, in ``X``; the true counts in the layer ``true``). Everything lives in one ``"global"``
coordinate system in µm; the rasters (morphology image, cell and nucleus labels) map to it
by a scale of the pixel size (the config's ``images.spatialdata_pixel_size_um``), on a grid
starting at the origin. In the label rasters a
cell's value is its ``cell_id + 1`` (0 is background).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from STpuppeteer._random import Stage
from STpuppeteer.geometry.raster import PixelGrid, rasterize_labels
from STpuppeteer.io.anndata import result_to_anndata
from STpuppeteer.io.atomic import atomic_output_dir
from STpuppeteer.io.manifest import write_manifest
from STpuppeteer.io.parquet import write_parquet
from STpuppeteer.stages.image import render_from_labels

if TYPE_CHECKING:
    import anndata as ad
    import spatialdata

    from STpuppeteer.result import SimulationResult

__all__ = ["COORDINATE_SYSTEM", "result_to_spatialdata", "write_spatialdata"]

COORDINATE_SYSTEM = "global"
CELL_SHAPES = "cell_boundaries"
NUCLEUS_SHAPES = "nucleus_boundaries"
CELL_LABELS = "cell_labels"
NUCLEUS_LABELS = "nucleus_labels"
TRANSCRIPTS = "transcripts"
IMAGE = "morphology"
TABLE = "table"
REGION_KEY = "region"
INSTANCE_KEY = "cell_id"
IMAGE_CHANNELS = ["DAPI", "membrane"]
# Rasters wider than this get a multiscale pyramid so viewers stay responsive.
_PYRAMID_FROM_PX = 4096
_AUTO_PYRAMID_LEVELS = 3


def _table(result: SimulationResult) -> ad.AnnData:
    """:func:`~STpuppeteer.io.anndata.result_to_anndata`, annotating the cell shapes."""
    adata = result_to_anndata(result)
    adata.obs[REGION_KEY] = pd.Categorical([CELL_SHAPES] * adata.n_obs)
    return adata


def result_to_spatialdata(
    result: SimulationResult,
    *,
    image: bool = True,
    labels: bool = True,
    pixel_size: float | None = None,
    pyramid_levels: int | None = None,
) -> spatialdata.SpatialData:
    """Points, shapes, table and (optionally) image and labels of a simulation.

    Parameters
    ----------
    result
        The simulation.
    image
        Render the morphology image (DAPI and membrane channels).
    labels
        Rasterise the cells and nuclei as label images.
    pixel_size
        µm per pixel of the image and labels; ``None``: the config's ``images.spatialdata_pixel_size_um``
        (0.425 µm, twice Xenium's, unless changed).
    pyramid_levels
        Downsampled levels (each half the last) below full resolution; ``None``: the config's
        ``images.spatialdata_pyramid_levels`` (and if that is ``None``, three for rasters 4,096 pixels or
        wider, else none).

    Returns
    -------
    A SpatialData with points ``"transcripts"`` (every column of ``trs_df``, instance key the true
    source ``cell_id``), shapes ``"cell_boundaries"`` and ``"nucleus_boundaries"`` indexed by
    ``cell_id``, table ``"table"`` (observed counts in ``X``, true counts in the layer ``true``, annotating
    ``"cell_boundaries"``), image
    ``"morphology"`` and labels ``"cell_labels"``/``"nucleus_labels"``.
    """
    import dask.dataframe as dd
    import geopandas as gpd
    from spatialdata import SpatialData
    from spatialdata.models import Image2DModel, Labels2DModel, PointsModel, ShapesModel, TableModel
    from spatialdata.transformations import Identity, Scale

    images_config = result.config.images
    pixel_size = images_config.spatialdata_pixel_size_um if pixel_size is None else pixel_size
    if pyramid_levels is None:
        pyramid_levels = images_config.spatialdata_pyramid_levels
    cell_gdf = result.cell_gdf
    identity = {COORDINATE_SYSTEM: Identity()}
    cell_ids = cell_gdf[INSTANCE_KEY].to_numpy()
    index = pd.Index(cell_ids, name=INSTANCE_KEY)
    shapes = {
        CELL_SHAPES: ShapesModel.parse(
            gpd.GeoDataFrame(geometry=np.asarray(cell_gdf.geometry.values), index=index),
            transformations=identity,
        ),
        NUCLEUS_SHAPES: ShapesModel.parse(
            gpd.GeoDataFrame(geometry=np.asarray(cell_gdf["nucleus"].values), index=index),
            transformations=identity,
        ),
    }
    # One Dask frame of every column: from pandas, the model would convert each column on its own
    # and find the same sorted divisions a dozen times over.
    trs = dd.from_pandas(result.trs_df.reset_index(drop=True), npartitions=1, sort=True)
    points = {
        TRANSCRIPTS: PointsModel.parse(
            trs,
            coordinates={"x": "x", "y": "y", "z": "z"},
            feature_key="feature_name",
            instance_key=INSTANCE_KEY,
            transformations=identity,
        )
    }
    table = TableModel.parse(_table(result), region=CELL_SHAPES, region_key=REGION_KEY, instance_key=INSTANCE_KEY)
    images, label_images = {}, {}
    if image or labels:
        grid = PixelGrid.from_origin(
            result.cell_gdf, points=result.trs_df[["x", "y"]].to_numpy(), pixel_size=pixel_size
        )
        to_um = {COORDINATE_SYSTEM: Scale([pixel_size, pixel_size], axes=("y", "x"))}
        if pyramid_levels is None:
            pyramid_levels = _AUTO_PYRAMID_LEVELS if max(grid.shape) >= _PYRAMID_FROM_PX else 0
        scale_factors = [2] * pyramid_levels or None
        values = cell_ids.astype(np.int64) + 1
        cell_raster = rasterize_labels(np.asarray(cell_gdf.geometry.values), grid, labels=values)
        nucleus_raster = rasterize_labels(np.asarray(cell_gdf["nucleus"].values), grid, labels=values)
        if image:
            pixels = render_from_labels(
                nucleus_raster,
                cell_labels=cell_raster,
                pixel_size=pixel_size,
                photons_per_count=images_config.photons_per_count,
                rng=result.stage_rng(Stage.IMAGE),
            )
            images[IMAGE] = Image2DModel.parse(
                pixels,
                dims=("c", "y", "x"),
                c_coords=IMAGE_CHANNELS,
                transformations=to_um,
                scale_factors=scale_factors,
            )
        if labels:
            for name, raster in ((CELL_LABELS, cell_raster), (NUCLEUS_LABELS, nucleus_raster)):
                label_images[name] = Labels2DModel.parse(
                    raster, dims=("y", "x"), transformations=to_um, scale_factors=scale_factors
                )
    return SpatialData(images=images, labels=label_images, points=points, shapes=shapes, tables={TABLE: table})


def _repack_points(store: Path) -> None:
    """Rewrite the points' Parquet files with :func:`~STpuppeteer.io.parquet.write_parquet`'s encodings.

    SpatialData writes points through Dask with plain Snappy pages (44 MB for a 3,000-cell run's
    molecules); packed as the other molecule tables are, the same table takes 25 MB. The Arrow
    schema and its pandas metadata are kept, so ``spatialdata.read_zarr`` reads the same frame.
    """
    import pyarrow.parquet as pq

    for part in sorted(store.glob("points/*/points.parquet/*.parquet")):
        write_parquet(pq.read_table(part), part)


def write_spatialdata(result: SimulationResult, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write :func:`result_to_spatialdata` to a ``.zarr`` store, with a ``manifest.json`` inside.

    Parameters
    ----------
    result
        The simulation.
    path
        The store to create (conventionally ending in ``.zarr``).
    overwrite
        Replace an existing store (only once the new one is complete).

    Returns
    -------
    The store's absolute path; ``spatialdata.read_zarr`` opens it.
    """
    import anndata as ad

    sdata = result_to_spatialdata(result)
    with atomic_output_dir(path, overwrite=overwrite) as tmp:
        # SpatialData.write creates its folder itself; the temporary one is only its placeholder.
        shutil.rmtree(tmp)
        # Unsharded zarr arrays: readable by every zarr-v3 reader, and anndata stops asking.
        with ad.settings.override(auto_shard_zarr_v3=False):
            sdata.write(tmp, update_sdata_path=False)
        _repack_points(tmp)
        write_manifest(tmp, result.config, fmt="spatialdata")
    return Path(path).expanduser().absolute()


#: The name :mod:`STpuppeteer.io` exports it under.
to_spatialdata = result_to_spatialdata
