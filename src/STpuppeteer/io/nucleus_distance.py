"""Distance from molecules to the nearest nucleus boundary (Xenium's ``nucleus_distance``).

Exact, without a raster and without a nearest-polygon search per molecule. Each molecule
gets a *home* nucleus: that of the cell it landed in, else the one with the nearest centre.
Its exact distance ``U`` to the home nucleus bounds the answer from above; a nucleus ``j``
can only be nearer if ``|p - c_j| - R_j < U`` (``c_j`` its centre, ``R_j`` its largest
radius). Because a nucleus is star-shaped about its centre, ``U ≤ ρ = |p - c_home|`` for a
molecule outside it, so every such ``j`` has its centre within ``2ρ + max R`` of the home
centre: a fixed neighbour list per nucleus holds all candidates, and the cheap bound above
leaves exact distances to compute for only a few of them. Molecules farther than
``_MAX_HOME_UM`` from any centre (background far outside the tissue) and homes that are
not star-shaped about their centre are measured by shapely's nearest-polygon search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from ..placement import StarPolygons

__all__ = ["NearestNucleus"]

# Molecules farther than this from their home centre use shapely's exact search; it keeps the
# neighbour lists short whatever a few outlying background molecules do.
_MAX_HOME_UM = 60.0
# Side of the tiles in which molecules spread over a larger area are measured.
_TILE_UM = 2500.0
# Nearest centres tried for a molecule far from any home before shapely's search.
_FAR_NEIGHBOURS = 8


@dataclass(frozen=True)
class NearestNucleus:
    """Distance (µm) from positions to the nearest nucleus, 0 inside one.

    Build with :meth:`build`; :meth:`distance` works on any set of molecules (a block or
    the whole run) and looks only at the nuclei around them.

    Attributes
    ----------
    nuclei
        All nucleus polygons (rows of ``cell_gdf``).
    centres
        ``(n, 2)`` nucleus centres (each simulated nucleus is star-shaped about its centre).
    radius
        An upper bound of each nucleus's largest distance from its centre.
    tree
        STR-tree of ``nuclei``.
    """

    nuclei: np.ndarray
    centres: np.ndarray
    radius: np.ndarray
    tree: shapely.STRtree

    @classmethod
    def build(cls, nuclei: np.ndarray, centres: np.ndarray, *, tree: shapely.STRtree | None = None) -> NearestNucleus:
        """The lookup for ``nuclei`` star-shaped about ``centres`` (``tree``: their STR-tree, if built)."""
        nuclei = np.asarray(nuclei, dtype=object)
        centres = np.asarray(centres, dtype=np.float64).reshape(len(nuclei), 2)
        # The farthest corner of the bounding box bounds the farthest vertex.
        x0, y0, x1, y1 = shapely.bounds(nuclei).T
        dx = np.maximum(np.abs(x0 - centres[:, 0]), np.abs(x1 - centres[:, 0]))
        dy = np.maximum(np.abs(y0 - centres[:, 1]), np.abs(y1 - centres[:, 1]))
        radius = np.nan_to_num(np.hypot(dx, dy), nan=0.0)
        return cls(nuclei, centres, radius, tree if tree is not None else shapely.STRtree(nuclei))

    def distance(self, x: np.ndarray, y: np.ndarray, landed: np.ndarray) -> np.ndarray:
        """Distance of each position to the nearest nucleus boundary (0 inside a nucleus).

        Parameters
        ----------
        x, y
            Positions, µm.
        landed
            Row of each position's cell (-1: none). A position inside a nucleus must have
            landed in that nucleus's cell (cells contain their nuclei and never overlap).

        Returns
        -------
        Distances, float64.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        landed = np.asarray(landed, dtype=np.int64)
        if not len(self.nuclei):
            return np.full(len(x), np.inf)
        if not len(x):
            return np.zeros(0)
        # Molecules spread over a large area are measured tile by tile, each against the
        # nuclei around its tile only (bounded memory whatever the area).
        col = np.floor((x - x.min()) / _TILE_UM).astype(np.int64)
        row = np.floor((y - y.min()) / _TILE_UM).astype(np.int64)
        if col.max() == 0 and row.max() == 0:
            return self._distance_local(x, y, landed)
        key = row * (col.max() + 1) + col
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        distance = np.empty(len(x))
        for part in np.split(order, bounds):
            distance[part] = self._distance_local(x[part], y[part], landed[part])
        return distance

    def _distance_local(self, x: np.ndarray, y: np.ndarray, landed: np.ndarray) -> np.ndarray:
        distance = np.zeros(len(x))
        # Homes are at most rho_max from their molecules: the landed cells' farthest (their
        # molecules lie in them), capped; molecules beyond it take the exact search.
        assigned = np.flatnonzero(landed >= 0)
        home_centres = self.centres[landed[assigned]]
        rho_landed = np.hypot(x[assigned] - home_centres[:, 0], y[assigned] - home_centres[:, 1])
        rho_max = min(float(rho_landed.max(initial=1.0)), _MAX_HOME_UM)
        # The nuclei around the molecules: every home and every neighbour of a home.
        reach = 2.0 * rho_max + float(self.radius.max())
        margin = rho_max + reach
        box = shapely.box(x.min() - margin, y.min() - margin, x.max() + margin, y.max() + margin)
        rows = np.sort(self.tree.query(box))
        if not len(rows):
            _, distance[:] = self.tree.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
            return distance
        local_centres = self.centres[rows]
        kdtree = cKDTree(local_centres)
        home = np.minimum(np.searchsorted(rows, landed), len(rows) - 1)
        lost = (landed >= 0) & (rows[home] != landed)  # a landed cell whose nucleus lies beyond the margin
        unlanded = np.flatnonzero(landed < 0)
        if len(unlanded):
            home[unlanded] = kdtree.query(np.column_stack([x[unlanded], y[unlanded]]))[1]
        fans = StarPolygons.from_geometries(self.nuclei[rows], local_centres)
        rho = np.hypot(x - local_centres[home, 0], y - local_centres[home, 1])
        far = (rho > rho_max) | ~fans.star[home] | lost
        near = np.flatnonzero(~far)
        upper = fans.distance(home[near], x[near], y[near])
        outside = upper > 0
        near, upper = near[outside], upper[outside]
        distance[near] = _improve(fans, kdtree, near, home[near], upper, rho[near], x, y, reach=reach)
        far = np.flatnonzero(far)
        if len(far):
            distance[far] = self._far(fans, kdtree, x[far], y[far], margin=margin)
        return distance

    def _far(self, fans: StarPolygons, kdtree: cKDTree, x: np.ndarray, y: np.ndarray, *, margin: float) -> np.ndarray:
        """Distances of molecules far from any home: the nearest few nuclei, certified, else shapely's search."""
        k = min(_FAR_NEIGHBOURS, len(kdtree.data))
        centre_distance, neighbours = kdtree.query(np.column_stack([x, y]), k=k)
        centre_distance = centre_distance.reshape(len(x), k)
        neighbours = neighbours.reshape(len(x), k)
        best = np.full(len(x), np.inf)
        for col in range(k):
            best = np.minimum(best, fans.distance(neighbours[:, col], x, y))
        # A nucleus not among the k nearest local centres has its centre at least the k-th
        # distance away (any nucleus outside the local set at least the margin), and its
        # boundary at least that less the largest radius.
        beyond = np.full(len(x), margin) if k == len(kdtree.data) else np.minimum(centre_distance[:, -1], margin)
        unsure = np.flatnonzero(best > beyond - float(self.radius.max()))
        if len(unsure):
            _, best[unsure] = self.tree.query_nearest(
                shapely.points(x[unsure], y[unsure]), return_distance=True, all_matches=False
            )
        return best


def _improve(fans: StarPolygons, kdtree: cKDTree, idx: np.ndarray, home: np.ndarray, upper: np.ndarray,
             rho: np.ndarray, x: np.ndarray, y: np.ndarray, *, reach: float) -> np.ndarray:
    """Lower ``upper`` (distances to the home nuclei) to the nearest nucleus among the homes' neighbours.

    ``rho`` is each molecule's distance from its home centre; the neighbour lists hold every
    centre within ``reach`` of a home, nearest first.
    """
    homes, which = np.unique(home, return_inverse=True)
    n_neighbours = kdtree.query_ball_point(kdtree.data[homes], reach, return_length=True)
    k = int(n_neighbours.max(initial=1))
    best = upper.copy()
    if k <= 1:
        return best
    # Padded with an infinite distance (and index len(data)) where a home has fewer.
    spacing, neighbours = kdtree.query(kdtree.data[homes], k=k, distance_upper_bound=reach)
    largest = float(fans.rmax.max())
    px, py = x[idx], y[idx]
    active = np.arange(len(idx))
    for col in range(k):
        # A neighbour s from the home centre is at least s - ρ from the molecule, and the
        # columns come in increasing s: once s - ρ - max R reaches the best, none can win.
        active = active[spacing[which[active], col] - rho[active] - largest < best[active]]
        if not len(active):
            break
        j = neighbours[which[active], col]
        ok = j != home[active]
        cand, j = active[ok], j[ok]
        bound = np.hypot(px[cand] - fans.centre[j, 0], py[cand] - fans.centre[j, 1]) - fans.rmax[j]
        closer = bound < best[cand]
        cand, j = cand[closer], j[closer]
        if len(cand):
            best[cand] = np.minimum(best[cand], fans.distance(j, px[cand], py[cand]))
    return best
