"""Distance from molecules to the nearest nucleus boundary (Xenium's ``nucleus_distance``).

Exact, without a raster and without a nearest-polygon search per molecule. Each molecule
gets a *home* nucleus: that of the cell it landed in, else the one with the nearest centre.
Its exact distance ``U`` to the home nucleus bounds the answer from above; a nucleus ``j``
can only be nearer if ``|p - c_j| - R_j < U`` (``c_j`` its centre, ``R_j`` its largest
radius). Because a nucleus is star-shaped about its centre, ``U ≤ ρ = |p - c_home|`` for a
molecule outside it, so every such ``j`` has its centre within ``2ρ + max R`` of the home
centre: a fixed neighbour list per nucleus holds all candidates, and the cheap bound above
leaves exact distances to compute for only a few of them. Molecules farther from their
home than any landed molecule of the batch (background between cells or outside the tissue)
walk their own nearest centres instead, with the same bound. The walks are compiled
(numba, without the GIL). A candidate that is not star-shaped about its centre, or a
molecule farther than the local nuclei's margin from all of them, takes shapely's
nearest-polygon search among the nuclei around it, widened until certain.

The nuclei come from a *source*: an array of polygons (:class:`NucleusArray`) or a
:class:`~STpuppeteer.pipeline.cell_store.CellStore`, which holds a whole slide's polygons as
coordinates and builds shapely polygons only for the rows asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numba
import numpy as np
import shapely
from scipy.spatial import cKDTree

from STpuppeteer.geometry.star import StarPolygons
from STpuppeteer.geometry.star_kernels import StarArrays, star_distance

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

    Build with :meth:`build` (polygons) or :meth:`from_source`; :meth:`distance` works on
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
    def from_source(cls, source: NucleusSource, *, centres: np.ndarray, bounds: np.ndarray) -> NearestNucleus:
        """The lookup for the nuclei of ``source`` (e.g. a cell store), their centres and ``(n, 4)`` bounds."""
        return cls(centres, _corner_radius(bounds, centres), source)

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
        rho = np.empty(len(x))  # distance from the home centre
        rho_max = min(_landed_rho(x, y, landed, self.centres[:, 0], self.centres[:, 1], rho), _MAX_HOME_UM)
        # The nuclei around the molecules: every home and every neighbour of a home.
        reach = 2.0 * rho_max + float(self.radius.max())
        margin = rho_max + reach
        rows = self.source.rows_near(np.array([x.min() - margin, y.min() - margin, x.max() + margin, y.max() + margin]))
        if not len(rows):
            return self._far(x, y, margin=margin)
        kdtree = cKDTree(self.centres[rows])
        # Each landed molecule's home is its cell's row among the local ones (-1: not landed,
        # -2: its nucleus lies beyond the margin).
        lut = np.full(int(rows[-1] - rows[0]) + 1, -1, dtype=np.int64)
        lut[rows - rows[0]] = np.arange(len(rows))
        home = np.empty(len(x), dtype=np.int64)
        _local_homes(landed, lut, int(rows[0]), home)
        unlanded = np.flatnonzero(home == -1)
        if len(unlanded):
            rho[unlanded], home[unlanded] = kdtree.query(np.column_stack([x[unlanded], y[unlanded]]))
        fans = self._fans(rows)
        far = (home < 0) | (rho > rho_max)
        home[home < 0] = 0
        far |= ~fans.star[home]
        near = np.flatnonzero(~far)
        if len(near):
            distance[near], status = _near(fans, kdtree, home[near], rho[near], x[near], y[near], reach=reach)
            far[near[status != _DONE]] = True
        far = np.flatnonzero(far)
        if len(far):
            distance[far], status = _nearest_centres_first(fans, kdtree, x[far], y[far])
            # Every nucleus left out of the local set is beyond the margin.
            redo = far[(status != _DONE) | (distance[far] > margin)]
            if len(redo):
                distance[redo] = self._far(x[redo], y[redo], margin=margin)
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


@numba.njit(cache=True, nogil=True, _nrt=False)
def _landed_rho(x: np.ndarray, y: np.ndarray, landed: np.ndarray, cx: np.ndarray, cy: np.ndarray,
                rho: np.ndarray) -> float:
    """``rho[k]``: landed molecule ``k``'s distance from its cell's nucleus centre; the largest (at least 1)."""
    largest = 1.0
    for k in range(len(x)):
        cell = landed[k]
        if cell >= 0:
            rho[k] = math.hypot(x[k] - cx[cell], y[k] - cy[cell])
            largest = max(largest, rho[k])
    return largest


@numba.njit(cache=True, nogil=True, _nrt=False)
def _local_homes(landed: np.ndarray, lut: np.ndarray, first: int, home: np.ndarray) -> None:
    """``home[k]``: the local row ``lut[landed[k] - first]`` (-1 if not landed, -2 if not local)."""
    for k in range(len(landed)):
        cell = landed[k] - first
        if landed[k] < 0:
            home[k] = -1
        elif 0 <= cell < len(lut) and lut[cell] >= 0:
            home[k] = lut[cell]
        else:
            home[k] = -2


def _near(fans: StarPolygons, kdtree: cKDTree, home: np.ndarray, rho: np.ndarray, x: np.ndarray, y: np.ndarray,
          *, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """Distances of molecules at most ``(reach - max R) / 2`` from their (star) homes' centres.

    Every nucleus that can be nearer than the home has its centre within ``reach`` of the
    home's: each home's neighbour list (every centre within reach, nearest first) is walked.
    """
    used = np.zeros(len(fans), dtype=bool)
    used[home] = True
    homes = np.flatnonzero(used)
    which = (np.cumsum(used) - 1)[home]
    # One column more than the longest list, so that every list ends in padding (spacing inf).
    k = int(kdtree.query_ball_point(kdtree.data[homes], reach, return_length=True).max(initial=0)) + 1
    spacing, neighbours = kdtree.query(kdtree.data[homes], k=k, distance_upper_bound=reach)
    return _walk(fans, x, y, home, rho, which, spacing.reshape(len(homes), k), neighbours.reshape(len(homes), k))


def _nearest_centres_first(fans: StarPolygons, kdtree: cKDTree, x: np.ndarray, y: np.ndarray,
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Distances of molecules to the nearest of the local nuclei, walking their nearest centres.

    The 8 nearest centres of each molecule are walked nearest first; a molecule whose
    candidates all might still be nearer asks again with four times as many.
    """
    n_local = len(fans)
    distance, status = np.empty(len(x)), np.full(len(x), _MORE, dtype=np.int8)
    todo, k = np.arange(len(x)), 8
    while len(todo):
        k = min(k, n_local)
        spacing, candidates = kdtree.query(np.column_stack([x[todo], y[todo]]), k=k)
        spacing, candidates = spacing.reshape(len(todo), k), candidates.reshape(len(todo), k)
        if k == n_local:  # every centre listed: end each list in padding
            spacing = np.column_stack([spacing, np.full(len(todo), np.inf)])
            candidates = np.column_stack([candidates, np.full(len(todo), n_local)])
        none = np.full(len(todo), -1)
        distance[todo], status[todo] = _walk(fans, x[todo], y[todo], none, np.zeros(len(todo)),
                                             np.arange(len(todo)), spacing, candidates)
        todo = todo[status[todo] == _MORE]
        k *= 4
    return distance, status


def _walk(fans: StarPolygons, x: np.ndarray, y: np.ndarray, home: np.ndarray, rho: np.ndarray, which: np.ndarray,
          spacing: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_walk_candidates` with its outputs allocated."""
    found, status = np.empty(len(x)), np.empty(len(x), dtype=np.int8)
    _walk_candidates(fans.kernel_arrays, fans.rmax, fans.star, x, y, home, rho, which, spacing, candidates,
                     float(fans.rmax.max()), found, status)
    return found, status


# Outcomes of a walk.
_DONE, _NOT_STAR, _MORE = 0, 1, 2


@numba.njit(cache=True, nogil=True, _nrt=False)
def _walk_candidates(
    fans: StarArrays, rmax: np.ndarray, star: np.ndarray, x: np.ndarray, y: np.ndarray, home: np.ndarray,
    rho: np.ndarray, which: np.ndarray, spacing: np.ndarray, candidates: np.ndarray, largest: float,
    out: np.ndarray, status: np.ndarray,
) -> None:
    """Distance of each molecule to the nearest nucleus among its candidates.

    Molecule ``k`` starts from its home nucleus (``home[k] < 0``: none) and walks row
    ``which[k]`` of ``candidates``, whose ``spacing`` from a reference point ``rho[k]`` from
    the molecule increases along the row (a home's centre, or the molecule itself with
    ``rho`` 0). A candidate at ``s`` is at least ``s - ρ - max R`` from the molecule, so the
    walk stops once that reaches the best distance. ``status[k]``: ``_DONE``; ``_NOT_STAR``, a
    candidate that may be nearer is not star-shaped; ``_MORE``, the row ended first.
    """
    n, k = len(x), spacing.shape[1]
    for i in range(n):
        h, px, py = home[i], x[i], y[i]
        best = star_distance(fans, h, px, py) if h >= 0 else math.inf
        w = which[i]
        status[i] = _MORE
        for col in range(k):
            if best == 0.0 or spacing[w, col] - rho[i] - largest >= best:
                status[i] = _DONE
                break
            j = candidates[w, col]
            if j == h or math.hypot(px - fans.cx[j], py - fans.cy[j]) - rmax[j] >= best:
                continue
            if not star[j]:
                status[i] = _NOT_STAR
                break
            best = min(best, star_distance(fans, j, px, py))
        out[i] = best
