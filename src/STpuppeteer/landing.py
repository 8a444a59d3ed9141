"""Which cell (and whether its nucleus) holds each of many points, fully vectorised.

Cells are binned by bounding box into a square grid; a point's candidates are the cells
registered in its grid square whose bounding box holds it, and the exact test is the
fan-sector test of :class:`~STpuppeteer.placement.StarPolygons` (no per-point geometry
objects, no Python loop over points). Cells do not overlap, so at most one candidate holds
a point (a point exactly on a shared edge goes to the lower row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .placement import StarPolygons

__all__ = ["CellLocator"]


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
            Grid square side, µm; default the median cell equivalent diameter.

        Returns
        -------
        The locator.
        """
        bounds = shapely.bounds(cells.geoms)
        ok = np.isfinite(bounds).all(axis=1)
        if step is None:
            step = float(np.median(2.0 * np.sqrt(cells.area[ok] / np.pi))) if ok.any() else 1.0
        step = max(step, 1e-6)
        if not ok.any():
            return cls(cells, nuclei, bounds, np.zeros(2), step, (1, 1), np.zeros(2, dtype=np.int64),
                       np.zeros(0, dtype=np.int64))
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
        return cls(cells, nuclei, bounds, origin, step, shape, grid_start, grid_rows)

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
        gi = np.floor((x - self.origin[0]) / self.step)
        gj = np.floor((y - self.origin[1]) / self.step)
        inside = (gi >= 0) & (gj >= 0) & (gi < self.shape[0]) & (gj < self.shape[1])
        pts = np.flatnonzero(inside)
        square = gi[pts].astype(np.int64) * self.shape[1] + gj[pts].astype(np.int64)
        lo, hi = self.grid_start[square], self.grid_start[square + 1]
        per = hi - lo
        point = np.repeat(pts, per)
        cand = self.grid_rows[np.repeat(lo, per) + np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)]
        b = self.bounds[cand]
        px, py = x[point], y[point]
        inbox = (px >= b[:, 0]) & (px <= b[:, 2]) & (py >= b[:, 1]) & (py <= b[:, 3])
        point, cand = point[inbox], cand[inbox]
        hit = self.cells.contains(cand, x[point], y[point])
        point, cand = point[hit], cand[hit]
        # Reverse so that, for a point on a shared edge, the lowest row is written last.
        row[point[::-1]] = cand[::-1]
        found = np.flatnonzero(row >= 0)
        in_nucleus[found] = self.nuclei.contains(row[found], x[found], y[found])
        return row, in_nucleus
