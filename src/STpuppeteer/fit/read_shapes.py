"""Polygons for a :class:`~STpuppeteer.fit.reference.Reference`: parsed, aligned with the cells, measured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

__all__ = ["align_polygons", "as_polygons", "inside_any", "polygon_table", "region_area"]


def as_polygons(values: pd.Series | np.ndarray, *, name: str) -> np.ndarray:
    """Shapely geometries from geometries, WKB bytes or WKT strings (``None`` where missing).

    Parameters
    ----------
    values
        One entry per cell.
    name
        The column's name, for the error message.

    Returns
    -------
    An object array of shapely geometries or ``None``.
    """
    items = np.asarray(values, dtype=object).copy()
    missing = pd.isna(pd.Series(items, dtype=object)).to_numpy()
    items[missing] = None
    kinds = {type(v) for v in items[~missing]}
    if kinds <= {bytes, bytearray, memoryview}:
        out = np.empty(len(items), dtype=object)
        out[~missing] = shapely.from_wkb([bytes(v) for v in items[~missing]])
        return out
    if kinds <= {str}:
        out = np.empty(len(items), dtype=object)
        out[~missing] = shapely.from_wkt(list(items[~missing]))
        return out
    if all(issubclass(k, shapely.Geometry) for k in kinds):
        return items
    msg = (f"cells[{name!r}] holds {sorted(k.__name__ for k in kinds)}; allowed are shapely polygons, WKB bytes "
           "or WKT strings (None where a cell has none).")
    raise ValueError(msg)


def align_polygons(polygons: np.ndarray, keys: np.ndarray, cell_ids: pd.Index) -> np.ndarray:
    """One geometry per cell of ``cell_ids`` (``None`` where it has none); repeated keys are united.

    A cell may have several nuclei (Xenium's multinucleate cells): their polygons become one
    multipolygon.
    """
    keys = np.asarray(keys).astype(str)
    out = np.full(len(cell_ids), None, dtype=object)
    rows = cell_ids.get_indexer(keys)
    found = (rows >= 0) & pd.notna(pd.Series(polygons, dtype=object)).to_numpy()
    rows, geoms = rows[found], np.asarray(polygons, dtype=object)[found]
    unique, first, n = np.unique(rows, return_index=True, return_counts=True)
    out[unique] = geoms[first]
    for row in unique[n > 1]:
        out[row] = shapely.union_all(geoms[rows == row])
    return out


def polygon_table(cell_polygons: np.ndarray | None, nucleus_polygons: np.ndarray | None) -> pd.DataFrame:
    """Centroid ``x``, ``y`` and ``cell_area`` of the cells, ``nucleus_area`` of the nuclei (NaN where none)."""
    columns = {}
    if cell_polygons is not None:
        centroid = shapely.centroid(cell_polygons)
        columns |= {"x": shapely.get_x(centroid), "y": shapely.get_y(centroid),
                    "cell_area": shapely.area(cell_polygons)}
    if nucleus_polygons is not None:
        columns["nucleus_area"] = shapely.area(nucleus_polygons)
    return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in columns.items()})


def inside_any(polygons: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether each point lies in or on one of ``polygons`` (on the edge counts as inside, as bento does)."""
    present = [p for p in polygons if p is not None]
    if not present:
        return np.zeros(len(x), dtype=bool)
    union = shapely.union_all(present)
    shapely.prepare(union)
    return shapely.intersects_xy(union, np.asarray(x, float), np.asarray(y, float))


def region_area(x: np.ndarray, y: np.ndarray, polygons: np.ndarray | None = None) -> float | None:
    """Area of the convex hull of the molecules and the cell polygons, µm² (``None`` if degenerate).

    The convex hull is what every input has; it counts the gaps of a concave tissue (more than
    the tissue) and misses the empty margins of a rectangular scan (less than the scan).
    """
    from scipy.spatial import ConvexHull, QhullError

    points = [np.column_stack([np.asarray(x, float), np.asarray(y, float)])]
    if polygons is not None:
        present = [p for p in polygons if p is not None]
        if present:
            points.append(shapely.get_coordinates(np.asarray(present, dtype=object)))
    xy = np.concatenate(points)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) < 3:
        return None
    try:
        return float(ConvexHull(xy).volume)  # in 2D the "volume" is the area
    except QhullError:  # every point on one line
        return None
