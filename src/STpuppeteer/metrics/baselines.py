"""Built-in baselines, so every score has a floor and a ceiling.

- :func:`nucleus_assignment`: a molecule goes to the cell whose nucleus contains it (the floor
  most segmenters beat).
- :func:`expansion_assignment`: Xenium's rule — each nucleus grows by ``distance`` µm but
  stops where it meets another growing nucleus; a molecule goes to the nearest nucleus (by
  distance to the nucleus polygon) when that nucleus is within ``distance``.
  :func:`expansion_shapes` gives the matching polygons.
- :func:`oracle_assignment`: the true polygons (a molecule goes where it landed,
  ``landed_cell_id``: the best any segmentation can do) or the true source (``cell_id``:
  perfect, leaked molecules returned home).

Each returns the same molecule → cell table a tool would (``transcript_id``, ``cell_id``,
-1 for unassigned), so baselines are scored exactly like methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import shapely

from STpuppeteer.metrics.inputs import as_truth

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "assign_by_polygons",
    "expansion_assignment",
    "expansion_shapes",
    "nucleus_assignment",
    "oracle_assignment",
]

OracleKind = Literal["polygons", "source"]


def _table(trs_df: pd.DataFrame, cell_id: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"transcript_id": trs_df["transcript_id"].to_numpy(), "cell_id": cell_id})


def assign_by_polygons(trs_df: pd.DataFrame, geoms: np.ndarray, cell_ids: np.ndarray) -> pd.DataFrame:
    """Assign each molecule to the polygon containing its (x, y); -1 when none does.

    A molecule inside several (overlapping) polygons goes to the first in ``geoms`` order.

    Parameters
    ----------
    trs_df
        Molecules with ``transcript_id``, ``x`` and ``y``.
    geoms
        Polygons.
    cell_ids
        The id of each polygon.

    Returns
    -------
    A table with ``transcript_id`` and ``cell_id``.

    Examples
    --------
    >>> trs = pd.DataFrame({"transcript_id": [0, 1], "x": [0.5, 5.0], "y": [0.5, 5.0]})
    >>> assign_by_polygons(trs, np.array([shapely.box(0, 0, 1, 1)]), np.array([7]))["cell_id"].tolist()
    [7, -1]
    """
    geoms = np.asarray(geoms, dtype=object)
    cell_ids = np.asarray(cell_ids)
    points = shapely.points(trs_df["x"].to_numpy(float), trs_df["y"].to_numpy(float))
    out = np.full(len(points), -1, dtype=np.int64 if np.issubdtype(cell_ids.dtype, np.integer) else object)
    if len(geoms) and len(points):
        tree = shapely.STRtree(geoms)
        pi, gi = tree.query(points, predicate="within")
        # Keep the first polygon per point (query order is by point, then by tree index).
        order = np.lexsort((gi, pi))
        pi, gi = pi[order], gi[order]
        first = np.r_[True, pi[1:] != pi[:-1]]
        out[pi[first]] = cell_ids[gi[first]]
    return _table(trs_df, out)


def nucleus_assignment(truth: object) -> pd.DataFrame:
    """Baseline: a molecule goes to the cell whose true nucleus contains it.

    Parameters
    ----------
    truth
        Anything :func:`~STpuppeteer.metrics.inputs.as_truth` accepts.

    Returns
    -------
    A ``transcript_id`` → ``cell_id`` table (-1: unassigned).
    """
    t = as_truth(truth)
    return assign_by_polygons(t.trs_df, t.cell_gdf["nucleus"].to_numpy(), t.cell_gdf["cell_id"].to_numpy())


def expansion_assignment(truth: object, distance: float = 5.0) -> pd.DataFrame:
    """Baseline: Xenium's nucleus expansion by ``distance`` µm.

    A molecule goes to the nucleus nearest to it (distance to the polygon, 0 inside) if that
    distance is at most ``distance``. This is exactly "grow every nucleus by ``distance``,
    stopping where two growing nuclei meet", without building the polygons.

    Parameters
    ----------
    truth
        Anything :func:`~STpuppeteer.metrics.inputs.as_truth` accepts.
    distance
        The expansion distance in µm (Xenium's default is 5; 0 gives the nucleus baseline).

    Returns
    -------
    A ``transcript_id`` → ``cell_id`` table (-1: unassigned).
    """
    if not np.isfinite(distance) or distance < 0:
        msg = f"distance={distance!r} is not allowed; expected a finite number of µm ≥ 0."
        raise ValueError(msg)
    t = as_truth(truth)
    nuclei = np.asarray(t.cell_gdf["nucleus"].to_numpy(), dtype=object)
    ids = t.cell_gdf["cell_id"].to_numpy()
    points = shapely.points(t.trs_df["x"].to_numpy(float), t.trs_df["y"].to_numpy(float))
    out = np.full(len(points), -1, dtype=np.int64)
    if len(nuclei) and len(points):
        # Candidate pairs within the distance, then the nearest per molecule (ties: first
        # nucleus). Five times faster than STRtree.query_nearest, same answer.
        tree = shapely.STRtree(nuclei)
        if distance > 0:
            pi, gi = tree.query(points, predicate="dwithin", distance=distance)
        else:
            pi, gi = tree.query(points, predicate="intersects")
        dist = shapely.distance(points[pi], nuclei[gi])
        order = np.lexsort((gi, dist, pi))
        pi, gi = pi[order], gi[order]
        first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, dtype=bool)
        out[pi[first]] = ids[gi[first]]
    return _table(t.trs_df, out)


def expansion_shapes(truth: object, distance: float = 5.0) -> gpd.GeoDataFrame:
    """Polygons of the expansion baseline: nuclei buffered by ``distance``, split between neighbours.

    The split uses the Voronoi cells of the nucleus centroids, an approximation of Xenium's
    equidistant-boundary rule that is exact for round nuclei of equal size.

    Parameters
    ----------
    truth
        Anything :func:`~STpuppeteer.metrics.inputs.as_truth` accepts.
    distance
        The expansion distance in µm.

    Returns
    -------
    A GeoDataFrame with ``cell_id`` and ``geometry``.
    """
    import geopandas as gpd

    t = as_truth(truth)
    nuclei = np.asarray(t.cell_gdf["nucleus"].to_numpy(), dtype=object)
    ids = t.cell_gdf["cell_id"].to_numpy()
    grown = shapely.buffer(nuclei, distance)
    if len(nuclei) > 1:
        centres = shapely.centroid(nuclei)
        extent = shapely.box(*shapely.total_bounds(grown)).buffer(distance + 1.0)
        regions = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(centres), extend_to=extent))
        # voronoi_polygons does not keep input order: find each centre's region.
        ci, ri = shapely.STRtree(regions).query(centres, predicate="within")
        region_of = np.empty(len(nuclei), dtype=object)
        region_of[ci] = regions[ri]
        # The own nucleus is always kept whole, even where it crosses the centroid bisector.
        grown = shapely.union(shapely.intersection(grown, region_of), nuclei)
    return gpd.GeoDataFrame({"cell_id": ids}, geometry=list(grown))


def oracle_assignment(truth: object, kind: OracleKind = "polygons") -> pd.DataFrame:
    """The ceiling: assignment by the true polygons or by the true source cell.

    Parameters
    ----------
    truth
        Anything :func:`~STpuppeteer.metrics.inputs.as_truth` accepts.
    kind
        ``"polygons"``: the cell each molecule landed in (``landed_cell_id``), the best a
        segmentation can do; ``"source"``: the cell that made it (``cell_id``), perfect.

    Returns
    -------
    A ``transcript_id`` → ``cell_id`` table (-1: unassigned).
    """
    t = as_truth(truth)
    if kind == "polygons":
        column = "landed_cell_id"
    elif kind == "source":
        column = "cell_id"
    else:
        msg = f"kind={kind!r} is not allowed; choose 'polygons' or 'source'."
        raise ValueError(msg)
    return _table(t.trs_df, t.trs_df[column].to_numpy(np.int64))
