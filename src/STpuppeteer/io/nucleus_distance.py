"""Distance from molecules to the nearest nucleus boundary (Xenium's ``nucleus_distance``).

Exact, without a raster and without a nearest-polygon search per molecule. Each molecule
gets a *home* nucleus: that of the cell it landed in, else the one with the nearest centre.
Its exact distance ``U`` to the home nucleus bounds the answer from above; a nucleus ``j``
can only be nearer if ``|p - c_j| - R_j < U`` (``c_j`` its centre, ``R_j`` its largest
radius). Because a nucleus is star-shaped about its centre, ``U ≤ ρ = |p - c_home|`` for a
molecule outside it, so every such ``j`` has its centre within ``2ρ + max R`` of the home
centre: a fixed neighbour list per nucleus holds all candidates, and the cheap bound above
leaves exact distances to compute for only a few of them. Molecules far from every centre
(background outside the tissue) and homes that are not star-shaped about their centre
take shapely's nearest-polygon search among the nuclei around them, widened until certain.

The nuclei come from a *source*: an array of polygons (:class:`NucleusArray`) or a
:class:`~STpuppeteer.cell_store.CellStore`, which holds a whole slide's polygons as
coordinates and builds shapely polygons only for the rows asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import shapely
from scipy.spatial import cKDTree

from ..placement import StarPolygons

if TYPE_CHECKING:
    from ..cell_store import CellStore

__all__ = ["NearestNucleus", "NucleusArray"]

# Molecules farther than this from their home centre take the widening search; it keeps the
# neighbour lists short whatever a few outlying background molecules do.
_MAX_HOME_UM = 60.0
# Side of the tiles in which molecules spread over a larger area are measured.
_TILE_UM = 2500.0


class NucleusSource(Protocol):
    """Where the nucleus polygons come from."""

    def nucleus_polygons(self, rows: np.ndarray) -> np.ndarray:
        """Shapely polygons of the nuclei ``rows``."""

    def nucleus_fans(self, rows: np.ndarray) -> StarPolygons:
        """Fans of the nuclei ``rows`` about their centres."""

    def rows_near(self, box: np.ndarray) -> np.ndarray:
        """Sorted rows including every nucleus that meets ``box`` (``xmin, ymin, xmax, ymax``)."""


@dataclass(frozen=True)
class NucleusArray:
    """Nuclei given as an array of shapely polygons, found through an STR-tree."""

    nuclei: np.ndarray
    centres: np.ndarray
    tree: shapely.STRtree

    @classmethod
    def build(cls, nuclei: np.ndarray, centres: np.ndarray) -> NucleusArray:
        """From the polygons and their centres (the tree is built here)."""
        nuclei = np.asarray(nuclei, dtype=object)
        return cls(nuclei, np.asarray(centres, dtype=np.float64).reshape(len(nuclei), 2), shapely.STRtree(nuclei))

    def nucleus_polygons(self, rows: np.ndarray) -> np.ndarray:
        """Shapely polygons of the nuclei ``rows``."""
        return self.nuclei[rows]

    def nucleus_fans(self, rows: np.ndarray) -> StarPolygons:
        """Fans of the nuclei ``rows`` about their centres."""
        return StarPolygons.from_geometries(self.nuclei[rows], self.centres[rows])

    def rows_near(self, box: np.ndarray) -> np.ndarray:
        """Sorted rows of the nuclei whose bounding box meets ``box``."""
        return np.sort(self.tree.query(shapely.box(*box)))


def _corner_radius(bounds: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Distance from each centre to the farthest corner of its bounding box (bounds the farthest vertex)."""
    dx = np.maximum(np.abs(bounds[:, 0] - centres[:, 0]), np.abs(bounds[:, 2] - centres[:, 0]))
    dy = np.maximum(np.abs(bounds[:, 1] - centres[:, 1]), np.abs(bounds[:, 3] - centres[:, 1]))
    return np.nan_to_num(np.hypot(dx, dy), nan=0.0)


@dataclass(frozen=True)
class NearestNucleus:
    """Distance (µm) from positions to the nearest nucleus, 0 inside one.

    Build with :meth:`build` (polygons) or :meth:`from_store`; :meth:`distance` works on
    any set of molecules (a block or the whole run) and looks only at the nuclei around them.

    Attributes
    ----------
    centres
        ``(n, 2)`` nucleus centres (each simulated nucleus is star-shaped about its centre).
    radius
        An upper bound of each nucleus's largest distance from its centre.
    source
        The nucleus polygons.
    """

    centres: np.ndarray
    radius: np.ndarray
    source: NucleusSource

    @classmethod
    def build(cls, nuclei: np.ndarray, centres: np.ndarray) -> NearestNucleus:
        """The lookup for the polygons ``nuclei``, star-shaped about ``centres``."""
        source = NucleusArray.build(nuclei, centres)
        return cls(source.centres, _corner_radius(shapely.bounds(source.nuclei), source.centres), source)

    @classmethod
    def from_store(cls, store: CellStore) -> NearestNucleus:
        """The lookup for the nuclei of a cell store (centred on ``nucleus_x``, ``nucleus_y``)."""
        return cls(store.nucleus_centre, _corner_radius(store.nuclei.bounds(), store.nucleus_centre), store)

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
        if not len(self.centres):
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

    def _fans(self, rows: np.ndarray) -> StarPolygons:
        return self.source.nucleus_fans(rows)

    def _distance_local(self, x: np.ndarray, y: np.ndarray, landed: np.ndarray) -> np.ndarray:
        distance = np.zeros(len(x))
        # Homes are at most rho_max from their molecules: the landed cells' farthest (their
        # molecules lie in them), capped; molecules beyond it take the widening search.
        assigned = np.flatnonzero(landed >= 0)
        home_centres = self.centres[landed[assigned]]
        rho_landed = np.hypot(x[assigned] - home_centres[:, 0], y[assigned] - home_centres[:, 1])
        rho_max = min(float(rho_landed.max(initial=1.0)), _MAX_HOME_UM)
        # The nuclei around the molecules: every home and every neighbour of a home.
        reach = 2.0 * rho_max + float(self.radius.max())
        margin = rho_max + reach
        rows = self.source.rows_near(np.array([x.min() - margin, y.min() - margin, x.max() + margin, y.max() + margin]))
        if not len(rows):
            return self._far(x, y, margin=margin)
        local_centres = self.centres[rows]
        kdtree = cKDTree(local_centres)
        home = np.minimum(np.searchsorted(rows, landed), len(rows) - 1)
        lost = (landed >= 0) & (rows[home] != landed)  # a landed cell whose nucleus lies beyond the margin
        unlanded = np.flatnonzero(landed < 0)
        if len(unlanded):
            home[unlanded] = kdtree.query(np.column_stack([x[unlanded], y[unlanded]]))[1]
        fans = self._fans(rows)
        rho = np.hypot(x - local_centres[home, 0], y - local_centres[home, 1])
        far = (rho > rho_max) | ~fans.star[home] | lost
        near = np.flatnonzero(~far)
        upper = fans.distance(home[near], x[near], y[near])
        outside = upper > 0
        near, upper = near[outside], upper[outside]
        distance[near] = _improve(fans, kdtree, near, home[near], upper, rho[near], x, y, reach=reach)
        far = np.flatnonzero(far)
        if len(far):
            distance[far] = self._far(x[far], y[far], margin=margin)
        return distance

    def _far(self, x: np.ndarray, y: np.ndarray, *, margin: float) -> np.ndarray:
        """Distances by an exact nearest-polygon search among the nuclei around, widened until certain.

        Every nucleus outside the searched box is at least ``margin`` from every molecule in
        it, so an answer within the margin is the true nearest; the others search again with
        twice the margin.
        """
        best = np.full(len(x), np.inf)
        todo = np.arange(len(x))
        while len(todo):
            px, py = x[todo], y[todo]
            rows = self.source.rows_near(np.array([px.min() - margin, py.min() - margin,
                                                   px.max() + margin, py.max() + margin]))
            if len(rows):
                tree = shapely.STRtree(self.source.nucleus_polygons(rows))
                _, found = tree.query_nearest(shapely.points(px, py), return_distance=True, all_matches=False)
                sure = (found <= margin) | (len(rows) == len(self.centres))
                best[todo[sure]] = found[sure]
                todo = todo[~sure]
            margin *= 2.0
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
