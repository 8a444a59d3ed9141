"""Cells against the tissue's outline: cut to it, keep the piece that holds the centre, distance to its edge.

Every cell model of the tissue stage (:mod:`STpuppeteer.stages.voronoi_cells`,
:mod:`STpuppeteer.stages.power_layout`, :mod:`STpuppeteer.stages.stretched_cells`) ends its
cells here, so they are cut alike.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["boundary_distance", "clip_to_region", "largest_part_at"]


def boundary_distance(region: shapely.Polygon, xy: np.ndarray) -> np.ndarray:
    """Distance of points inside ``region`` from its boundary (exact and fast for a rectangle).

    Parameters
    ----------
    region
        The tissue polygon.
    xy
        ``(n, 2)`` points inside it.

    Returns
    -------
    ``(n,)`` distances.
    """
    if shapely.equals(region, shapely.envelope(region)):
        x0, y0, x1, y1 = region.bounds
        return np.minimum.reduce([xy[:, 0] - x0, x1 - xy[:, 0], xy[:, 1] - y0, y1 - xy[:, 1]])
    return shapely.distance(region.boundary, shapely.points(xy))


def largest_part_at(cells: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Each cell as one polygon: of a cell cut into pieces, the piece that holds its centre.

    Parameters
    ----------
    cells
        ``(n,)`` geometries (polygons, or collections where a cut split them).
    centres
        ``(n, 2)`` the cells' centres.

    Returns
    -------
    ``(n,)`` polygons: the piece holding the centre, or the largest piece where none does.
    """
    # Clipping to a non-convex tissue can split a cell (or leave slivers): keep the piece
    # holding the cell's centre. Only a handful of border cells ever get here.
    out = cells.copy()
    for i in np.flatnonzero(shapely.get_type_id(cells) != shapely.GeometryType.POLYGON):
        parts = shapely.get_parts(cells[i])
        parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
        hit = shapely.contains_xy(parts, *centres[i])
        out[i] = parts[np.argmax(hit)] if hit.any() else parts[np.argmax(shapely.area(parts))]
    return out


def clip_to_region(cells: np.ndarray, centres: np.ndarray, region: shapely.Polygon) -> np.ndarray:
    """Cells cut to the tissue, each kept as the one piece that holds its centre.

    Parameters
    ----------
    cells
        ``(n,)`` cell polygons; changed in place where they leave ``region``.
    centres
        ``(n, 2)`` the cells' centres.
    region
        The tissue polygon (prepared for speed).

    Returns
    -------
    ``cells``, cut.
    """
    x0, y0, x1, y1 = shapely.bounds(cells).T
    if shapely.equals(region, shapely.envelope(region)):
        rx0, ry0, rx1, ry1 = region.bounds
        outside = (x0 < rx0) | (y0 < ry0) | (x1 > rx1) | (y1 > ry1)
    else:
        outside = ~shapely.contains(region, cells)
    if outside.any():
        cells[outside] = shapely.intersection(cells[outside], region)
        cells[outside] = largest_part_at(cells[outside], centres[outside])
    return cells
