"""Pixel grids over the tissue and polygons burnt into integer label rasters.

Pixel ``(row, col)`` covers ``[x0 + col·p, x0 + (col+1)·p) × [y0 + row·p, y0 + (row+1)·p)``
in µm, ``p`` the pixel size, so ``x_µm / p`` is the pixel coordinate when the grid starts at
the origin (as Xenium's does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
import shapely

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["MAX_PIXELS", "PixelGrid", "rasterize_labels"]

# Largest raster rendered in memory (a 4.7 mm square at Xenium's pixel size); the rasteriser
# needs about 8 bytes per pixel on top of the image itself.
MAX_PIXELS = 500_000_000


@dataclass(frozen=True)
class PixelGrid:
    """A raster in µm: its origin (top-left corner), pixel size and shape ``(n_rows, n_cols)``."""

    x0: float
    y0: float
    pixel_size: float
    shape: tuple[int, int]

    @classmethod
    def from_bounds(cls, bounds: tuple[float, float, float, float], *, pixel_size: float) -> PixelGrid:
        """The grid starting at ``(xmin, ymin)`` that covers ``bounds`` = ``(xmin, ymin, xmax, ymax)``.

        Parameters
        ----------
        bounds
            Region to cover, µm.
        pixel_size
            µm per pixel.
        """
        xmin, ymin, xmax, ymax = (float(b) for b in bounds)
        if not pixel_size > 0:
            msg = f"pixel_size={pixel_size!r} is not allowed; it must be a positive number of µm."
            raise ValueError(msg)
        if not (xmax > xmin and ymax > ymin):
            msg = f"bounds={bounds!r} is not allowed; expected (xmin, ymin, xmax, ymax) with xmax > xmin, ymax > ymin."
            raise ValueError(msg)
        n_cols = math.ceil((xmax - xmin) / pixel_size)
        n_rows = math.ceil((ymax - ymin) / pixel_size)
        if n_rows * n_cols > MAX_PIXELS:
            msg = (
                f"bounds={bounds!r} at pixel_size={pixel_size} µm make a {n_rows} × {n_cols} raster, more than "
                f"the {MAX_PIXELS:.0e} pixels allowed in memory; simulate a smaller tile (or tiles of a slide)."
            )
            raise ValueError(msg)
        return cls(x0=xmin, y0=ymin, pixel_size=float(pixel_size), shape=(n_rows, n_cols))

    @classmethod
    def from_origin(
        cls, cell_gdf: gpd.GeoDataFrame, *, points: np.ndarray | None = None, pixel_size: float
    ) -> PixelGrid:
        """The grid from ``(0, 0)`` to the farthest cell (or point), so that pixel = µm / pixel size.

        Parameters
        ----------
        cell_gdf
            Cells with their polygons.
        points
            ``(n, 2)`` positions (e.g. molecules) the raster must also cover.
        pixel_size
            µm per pixel.
        """
        xmax, ymax = shapely.total_bounds(np.asarray(cell_gdf.geometry.values))[2:]
        if points is not None and len(points):
            xmax, ymax = max(xmax, float(points[:, 0].max())), max(ymax, float(points[:, 1].max()))
        return cls.from_bounds((0.0, 0.0, xmax, ymax), pixel_size=pixel_size)


def rasterize_labels(polygons: np.ndarray, grid: PixelGrid, *, labels: np.ndarray | None = None) -> np.ndarray:
    """Label raster: each pixel whose centre lies in polygon ``i`` gets ``labels[i]``, else 0.

    Every polygon is scan-converted at once: the crossings of all edges with all pixel rows
    are computed together, paired along each row, and the spans written by one compiled
    loop. Polygons are expected not to overlap (cells and nuclei do not);
    where they do, the slower exact path lets the later polygon win.

    Parameters
    ----------
    polygons
        Shapely polygons (their exterior rings are filled; multipolygons fill every part).
    grid
        The raster.
    labels
        One positive label per polygon; ``1 … n`` when omitted.

    Returns
    -------
    A ``uint32`` array of ``grid.shape``.

    Examples
    --------
    >>> import shapely
    >>> grid = PixelGrid.from_bounds((0, 0, 4, 3), pixel_size=1.0)
    >>> rasterize_labels(np.array([shapely.box(0, 0, 2, 2)]), grid)
    array([[1, 1, 0, 0],
           [1, 1, 0, 0],
           [0, 0, 0, 0]], dtype=uint32)
    """
    polygons = np.asarray(polygons, dtype=object)
    labels = np.arange(1, len(polygons) + 1) if labels is None else np.asarray(labels)
    if len(labels) != len(polygons):
        msg = f"labels has {len(labels)} values; it must have one per polygon ({len(polygons)})."
        raise ValueError(msg)
    n_rows, n_cols = grid.shape
    parts, part_of = shapely.get_parts(polygons, return_index=True)
    part_labels = labels[part_of].astype(np.int64)
    coords, ring_of = shapely.get_coordinates(shapely.get_exterior_ring(parts), return_index=True)
    # Pixel (r, c) is centred at (x0 + (c + ½)p, y0 + (r + ½)p): in these units its centre is (r, c).
    cols = (coords[:, 0] - grid.x0) / grid.pixel_size - 0.5
    rows = (coords[:, 1] - grid.y0) / grid.pixel_size - 0.5
    edge = ring_of[1:] == ring_of[:-1]  # rings are closed, so consecutive vertices make the edges
    xa, xb, ya, yb = cols[:-1][edge], cols[1:][edge], rows[:-1][edge], rows[1:][edge]
    edge_ring = ring_of[:-1][edge]
    # An edge crosses row r when min(y) <= r < max(y): half-open, so each row meets a closed
    # ring an even number of times and horizontal edges never.
    lo = np.clip(np.ceil(np.minimum(ya, yb)), 0, n_rows).astype(np.int64)
    hi = np.clip(np.ceil(np.maximum(ya, yb)), 0, n_rows).astype(np.int64)
    n_cross = hi - lo
    which = np.repeat(np.arange(len(lo)), n_cross)
    row = lo[which] + np.arange(len(which)) - np.repeat(np.cumsum(n_cross) - n_cross, n_cross)
    x = xa[which] + (row - ya[which]) / (yb[which] - ya[which]) * (xb[which] - xa[which])
    ring = edge_ring[which]
    order = np.lexsort((x, row, ring))
    x, row, ring = x[order], row[order], ring[order]
    start = np.clip(np.ceil(x[0::2]), 0, n_cols).astype(np.int64)
    stop = np.clip(np.ceil(x[1::2]), 0, n_cols).astype(np.int64)
    span_row, span_label = row[0::2], part_labels[ring[0::2]]
    keep = stop > start
    start, stop, span_row, span_label = start[keep], stop[keep], span_row[keep], span_label[keep]
    raster = np.zeros(grid.shape, dtype=np.uint32)
    if _fill_spans(raster, span_row, start, stop, span_label.astype(np.uint32)):
        return _rasterize_overlapping(rows, cols, ring_of, part_labels, grid.shape)
    return raster


@numba.njit(cache=True, nogil=True)
def _fill_spans(
    raster: np.ndarray, rows: np.ndarray, starts: np.ndarray, stops: np.ndarray, labels: np.ndarray
) -> bool:  # pragma: no cover - compiled
    """Write each span's label into ``raster``; ``True`` (and stop) at a pixel already written.

    One pass over the covered pixels, where a difference array and its cumulative sum took five
    passes over eight bytes a pixel; labels are positive, so a non-zero pixel is an overlap.
    """
    for i in range(len(rows)):
        line = raster[rows[i]]
        label = labels[i]
        for c in range(starts[i], stops[i]):
            if line[c] != 0:
                return True
            line[c] = label
    return False


def _rasterize_overlapping(
    rows: np.ndarray, cols: np.ndarray, ring_of: np.ndarray, labels: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Exact fill for overlapping polygons, one C call per polygon; the later one wins."""
    from skimage.draw import polygon as fill_polygon  # the io extra; only overlapping polygons need it

    out = np.zeros(shape, dtype=np.uint32)
    bounds = np.searchsorted(ring_of, np.arange(len(labels) + 1))
    for i, (first, last) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        rr, cc = fill_polygon(rows[first:last], cols[first:last], shape=shape)
        out[rr, cc] = labels[i]
    return out
