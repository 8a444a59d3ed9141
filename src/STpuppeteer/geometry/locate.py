"""Which cell (and whether its nucleus) holds each of many points, in one compiled loop.

Cells are binned by bounding box into a square grid; a point's candidates are the cells
registered in its grid square whose bounding box holds it, and the exact test is the
fan-sector test of :class:`~STpuppeteer.geometry.star.StarPolygons` (no per-point geometry
objects). Cells do not overlap, so at most one candidate holds a point (a point exactly on a
shared edge goes to the lower row). One numba loop walks each point's candidates in row order
and stops at the first that holds it; a point that meets a cell not star-shaped about its
centre before that goes to the vectorised path, whose test of such cells is shapely's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from STpuppeteer.geometry.star import StarPolygons
from STpuppeteer.geometry.star_kernels import StarArrays, star_contains_point

__all__ = ["CellLocator"]

# Points per chunk of :meth:`CellLocator.locate`.
_CHUNK = 8192


@dataclass(frozen=True)
class CellLocator:
    """Grid index of cell bounding boxes over the fan structure of the cells.

    Build with :meth:`build`.
    """

    cells: StarPolygons
    nuclei: StarPolygons
    bounds: np.ndarray
    origin: np.ndarray
    step: float
    shape: tuple[int, int]
    grid_start: np.ndarray
    grid_rows: np.ndarray
    bx0: np.ndarray
    by0: np.ndarray
    bx1: np.ndarray
    by1: np.ndarray

    @classmethod
    def build(cls, cells: StarPolygons, nuclei: StarPolygons, *, step: float | None = None) -> CellLocator:
        """Index ``cells`` on a grid.

        Parameters
        ----------
        cells
            Fan structure of the cell polygons.
        nuclei
            Fan structure of the nuclei (same rows).
        step
            Grid square side, µm; default half the median cell equivalent diameter (a point
            then has about three candidate cells).

        Returns
        -------
        The locator.
        """
        bounds = cells.bounds()
        ok = np.isfinite(bounds).all(axis=1)
        if step is None:
            step = float(np.median(np.sqrt(cells.area[ok] / np.pi))) if ok.any() else 1.0
        step = max(step, 1e-6)
        # Contiguous columns: the per-candidate box test gathers from them.
        bx0, by0, bx1, by1 = (np.ascontiguousarray(bounds[:, k]) for k in range(4))
        if not ok.any():
            return cls(cells, nuclei, bounds, np.zeros(2), step, (1, 1), np.zeros(2, dtype=np.int64),
                       np.zeros(0, dtype=np.int64), bx0, by0, bx1, by1)
        origin = bounds[ok, :2].min(axis=0)
        top = bounds[ok, 2:].max(axis=0)
        shape = (int((top[0] - origin[0]) // step) + 1, int((top[1] - origin[1]) // step) + 1)
        rows = np.flatnonzero(ok)
        i0 = ((bounds[rows, 0] - origin[0]) // step).astype(np.int64)
        i1 = ((bounds[rows, 2] - origin[0]) // step).astype(np.int64)
        j0 = ((bounds[rows, 1] - origin[1]) // step).astype(np.int64)
        j1 = ((bounds[rows, 3] - origin[1]) // step).astype(np.int64)
        ni, nj = i1 - i0 + 1, j1 - j0 + 1
        per = ni * nj
        owner = np.repeat(np.arange(len(rows)), per)
        k = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
        gi = i0[owner] + k // nj[owner]
        gj = j0[owner] + k % nj[owner]
        square = gi * shape[1] + gj
        order = np.argsort(square, kind="stable")
        grid_rows = rows[owner[order]]
        grid_start = np.searchsorted(square[order], np.arange(shape[0] * shape[1] + 1))
        return cls(cells, nuclei, bounds, origin, step, shape, grid_start, grid_rows, bx0, by0, bx1, by1)

    def locate(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell row holding each point (-1 for none) and whether it is in that cell's nucleus.

        Parameters
        ----------
        x, y
            The points, µm.

        Returns
        -------
        ``row`` (int64, -1 outside every cell) and ``in_nucleus`` (bool).
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        n = len(x)
        row = np.full(n, -1, dtype=np.int64)
        in_nucleus = np.zeros(n, dtype=bool)
        if n == 0 or len(self.grid_rows) == 0:
            return row, in_nucleus
        # The compiled walk; points it leaves to shapely (a candidate that is not star-shaped
        # before any hit) take the vectorised path, chunk by chunk (candidate lists in cache).
        deferred = np.zeros(n, dtype=bool)
        _locate_points(self.cells.kernel_arrays, self.cells.star, self.origin[0], self.origin[1], self.step,
                       self.shape[0], self.shape[1], self.grid_start, self.grid_rows, self.bx0, self.by0,
                       self.bx1, self.by1, x, y, row, deferred)
        odd = np.flatnonzero(deferred)
        for lo in range(0, len(odd), _CHUNK):
            sub = odd[lo:lo + _CHUNK]
            sub_row = np.full(len(sub), -1, dtype=np.int64)
            self._locate_chunk(x[sub], y[sub], sub_row)
            row[sub] = sub_row
        found = np.flatnonzero(row >= 0)
        in_nucleus[found] = self.nuclei.contains(row[found], x[found], y[found])
        return row, in_nucleus

    def _locate_chunk(self, x: np.ndarray, y: np.ndarray, row: np.ndarray) -> None:
        """The vectorised locate (cells only) of some points, into ``row`` (-1 for none)."""
        gi = np.floor((x - self.origin[0]) / self.step)
        gj = np.floor((y - self.origin[1]) / self.step)
        inside = (gi >= 0) & (gj >= 0) & (gi < self.shape[0]) & (gj < self.shape[1])
        pts = np.flatnonzero(inside)
        square = gi[pts].astype(np.int64)
        square *= self.shape[1]
        square += gj[pts].astype(np.int64)
        lo = self.grid_start[square]
        per = self.grid_start[square + 1] - lo
        first = np.cumsum(per)
        total = int(first[-1]) if len(first) else 0
        first -= per
        point = np.repeat(pts, per)
        # Candidate k of a point is grid_rows[lo + k]: one repeat of the shift, plus a ramp.
        pos = np.repeat(lo - first, per)
        pos += np.arange(total)
        cand = self.grid_rows[pos]
        px, py = x[point], y[point]
        inbox = (px >= self.bx0[cand]) & (px <= self.bx1[cand]) & (py >= self.by0[cand]) & (py <= self.by1[cand])
        keep = np.flatnonzero(inbox)
        point, cand = point[keep], cand[keep]
        hit = self.cells.contains(cand, px[keep], py[keep])
        point, cand = point[hit], cand[hit]
        # Reverse so that, for a point on a shared edge, the lowest row is written last.
        row[point[::-1]] = cand[::-1]


@numba.njit(cache=True, nogil=True, _nrt=False)
def _locate_points(
    cells: StarArrays,
    star: np.ndarray,
    origin_x: float,
    origin_y: float,
    step: float,
    n_i: int,
    n_j: int,
    grid_start: np.ndarray,
    grid_rows: np.ndarray,
    bx0: np.ndarray,
    by0: np.ndarray,
    bx1: np.ndarray,
    by1: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    row: np.ndarray,
    deferred: np.ndarray,
) -> None:
    """The lowest cell row holding point ``k`` into ``row[k]`` (left at -1 for none), for every ``k``.

    The grid square's candidates are in ascending row order, so the first that holds the point
    is the lowest (as in :meth:`CellLocator._locate_chunk`, with the same arithmetic). A candidate
    whose box holds the point but which is not star-shaped sets ``deferred[k]`` instead.
    """
    for k in range(len(x)):
        px, py = x[k], y[k]
        gi = np.floor((px - origin_x) / step)
        gj = np.floor((py - origin_y) / step)
        if not (gi >= 0 and gj >= 0 and gi < n_i and gj < n_j):
            continue
        square = np.int64(gi) * n_j + np.int64(gj)
        for pos in range(grid_start[square], grid_start[square + 1]):
            c = grid_rows[pos]
            if not (px >= bx0[c] and px <= bx1[c] and py >= by0[c] and py <= by1[c]):
                continue
            if not star[c]:
                deferred[k] = True
                break
            if star_contains_point(cells, c, px, py):
                row[k] = c
                break
