"""CosMx's images per field of view: the cells' label raster and the DAPI / membrane composite."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from STpuppeteer._random import Stage, block_rng
from STpuppeteer.geometry.raster import PixelGrid, rasterize_labels
from STpuppeteer.io._cosmx_constants import CosmxFiles, composite_name, labels_name
from STpuppeteer.io.tiff import write_tiff
from STpuppeteer.stages.image import render_from_labels

if TYPE_CHECKING:
    from pathlib import Path

    from STpuppeteer.io.cosmx_fovs import FovLayout
    from STpuppeteer.result import SimulationResult

__all__ = ["write_fov_images"]


def _to_uint8(channel: np.ndarray) -> np.ndarray:
    top = max(float(np.percentile(channel, 99.9)), 1.0)
    return np.clip(channel.astype(np.float32) * (255.0 / top), 0, 255).astype(np.uint8)


def write_fov_images(
    result: SimulationResult,
    pieces: pd.DataFrame,
    layout: FovLayout,
    folder: Path,
    *,
    composite: bool,
    binning: int,
) -> None:
    """Each FOV's label raster (camera pixels) and composite (rendered ``binning`` × ``binning`` camera pixels a pixel).

    The composite is stored at the camera's resolution, each rendered pixel repeated: the reader
    places it with the same FOV transform as the labels, so both must have the FOV's pixels.
    """
    from PIL import Image

    labels_dir = folder / CosmxFiles.LABELS_DIR
    images_dir = folder / CosmxFiles.IMAGES_DIR
    labels_dir.mkdir()
    images_dir.mkdir()
    cells = result.cell_gdf
    polygons = np.asarray(cells.geometry.values)
    nuclei = np.asarray(cells["nucleus"].values)
    tree = shapely.STRtree(polygons)
    boxes = layout.boxes()
    corners = layout.corners()
    parent = result.stage_rng(Stage.COSMX_IMAGES)
    shape = (layout.size_px, layout.size_px)
    for fov, fov_pieces in pieces.groupby("fov", sort=True):
        grid = PixelGrid(x0=corners[fov - 1, 0], y0=corners[fov - 1, 1], pixel_size=layout.pixel_size, shape=shape)
        labels = rasterize_labels(fov_pieces["geometry"].to_numpy(), grid, labels=fov_pieces["cell_ID"].to_numpy())
        # 16 bits while the FOV's cells fit (thousands do; half the bytes to compress), else 32.
        if len(fov_pieces) <= np.iinfo(np.uint16).max:
            labels = labels.astype(np.uint16)
        # Stored bottom row first: spatialdata_io.cosmx flips rows so that row = local y.
        write_tiff(labels_dir / labels_name(fov), np.flipud(labels))
        if not composite:
            continue
        # The camera sees every cell in its field, also those another FOV owns.
        seen = tree.query(boxes[fov - 1], predicate="intersects")
        binned = PixelGrid(x0=grid.x0, y0=grid.y0, pixel_size=layout.pixel_size * binning,
                           shape=(math.ceil(shape[0] / binning), math.ceil(shape[1] / binning)))
        stains = render_from_labels(
            rasterize_labels(nuclei[seen], binned),
            cell_labels=rasterize_labels(polygons[seen], binned),
            pixel_size=binned.pixel_size,
            rng=block_rng(parent, int(fov)),
        )
        rgb = np.stack([np.zeros(binned.shape, np.uint8), _to_uint8(stains[1]), _to_uint8(stains[0])], axis=-1)
        # Stored bottom row first, as the labels: flipped while small, then each rendered pixel made a
        # binning × binning block by Pillow's nearest-neighbour resize (exact for a whole factor) and the
        # rows past the FOV, now at the top, cropped; the image goes to the JPEG encoder as it is.
        image = Image.fromarray(np.ascontiguousarray(rgb[::-1]))
        if binning > 1:
            h, w = binned.shape
            image = image.resize((w * binning, h * binning), Image.Resampling.NEAREST)
            image = image.crop((0, h * binning - shape[0], shape[1], h * binning))
        image.save(images_dir / composite_name(fov), format="JPEG", quality=90)
