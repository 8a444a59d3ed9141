"""Uniform points in polygons, and point-in-polygon tests, without per-point geometry calls.

Every polygon is fanned into triangles (centre, v_j, v_j+1) from a centre it is star-shaped
about (a cell or nucleus is star-shaped about its nucleus centre). Sampling picks a triangle
with probability proportional to its area and a barycentric point in it; a point lies in
polygon i iff it lies on the inner side of the one edge whose angular sector (seen from the
centre) holds it. Both lookups (triangle by cumulative area, sector by angle) go through
per-row guide tables of equal slices and a short exact scan, which returns what a binary
search would, without its ~20 cache-missing steps a point. Sampling and the containment test
are vectorised numpy over every polygon at once, in chunks whose temporaries stay in cache;
fanning the rings and the distance to a polygon, whose work per ring or point varies, are
compiled loops (:mod:`~STpuppeteer.geometry.star_kernels`). The rare polygon that
is not star-shaped about its centre (or is not a single polygon) falls back on shapely's
constrained Delaunay triangulation for sampling and ``shapely.contains_xy`` for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import shapely

from STpuppeteer.geometry.star_kernels import (
    KEY_STRIDE,
    StarArrays,
    fan_rings,
    sector_table,
    star_contains,
    star_distances,
)
from STpuppeteer.geometry.star_sampling import StarSampling
from STpuppeteer.geometry.star_tables import (
    SECTOR_BINS_PER_TRIANGLE,
    TWO_PI,
    bins_per_row,
    index_type,
    scan_last,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["StarPolygons"]

# Angle keys are row * _KEY_STRIDE + angle in [0, 2π]; the stride keeps rows apart.
_KEY_STRIDE = KEY_STRIDE
# Margin (radians) of the sector table's slices: far above the rounding of a point's slice.
_SECTOR_MARGIN = 1e-9


@dataclass(frozen=True)
class _Triangles:
    """Explicit triangles (fallback polygons), grouped by row."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    start: np.ndarray  # (n_rows + 1,) offsets, rows with no fallback have none
    cum: np.ndarray  # cumulative area, global


@dataclass(frozen=True)
class StarPolygons(StarSampling):
    """Fan triangulation of a set of polygons about given centres.

    Build with :meth:`from_geometries`. Row ``i`` is the ``i``-th geometry.

    Attributes
    ----------
    geoms
        The polygons (built :meth:`from_rings`: only those of the fallback rows, else ``None``).
    centre
        (n, 2) centre each polygon is fanned from.
    area
        Polygon areas (from the triangles).
    star
        Whether each polygon is star-shaped about its centre (else the fallback is used).
    vx, vy
        Concatenated closed exterior rings, counter-clockwise.
    rvx, rvy
        The same vertices relative to their polygon's centre.
    start
        (n + 1,) ring offsets into ``vx``/``vy``.
    cum
        Cumulative fan-triangle area over all vertices (triangle j is centre, v_j, v_j+1;
        the closing vertex contributes 0).
    row_base
        ``cum`` just before each row's first vertex.
    key
        Angle keys ``row * 8 + angle of v_j from v_0 about the centre`` (monotone in a star row).
    theta0
        Angle of v_0 about the centre.
    rmax
        Largest distance from the centre to a vertex.
    rmin
        Distance from the centre to the nearest edge (0 for non-star polygons).
    cum_len
        Cumulative edge length over all vertices (the closing vertex contributes 0).
    fallback
        Explicit triangles of the non-star polygons.
    sector_bins, sector_start, sector_lo
        The same for the containment test: row ``i`` splits the full turn into
        ``sector_bins[i]`` equal angles; a point whose angle falls in slice ``g`` lies in a
        sector at or after ``sector_lo[sector_start[i] + g]``.
    test_rows
        (n, 6) per-row constants of the containment test side by side (centre x, centre y,
        rmin², rmax², theta0, sector_bins).
    """

    geoms: np.ndarray
    centre: np.ndarray
    area: np.ndarray
    star: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    rvx: np.ndarray
    rvy: np.ndarray
    start: np.ndarray
    cum: np.ndarray
    row_base: np.ndarray
    key: np.ndarray
    theta0: np.ndarray
    rmax: np.ndarray
    rmin: np.ndarray
    cum_len: np.ndarray
    fallback: _Triangles
    sector_bins: np.ndarray
    sector_start: np.ndarray
    sector_lo: np.ndarray
    test_rows: np.ndarray

    def __len__(self) -> int:
        return len(self.geoms)

    def bounds(self) -> np.ndarray:
        """``(n, 4)`` bounding boxes (``xmin, ymin, xmax, ymax``; NaN for an empty row)."""
        out = np.full((len(self), 4), np.nan)
        has = np.diff(self.start) > 0
        first = self.start[:-1][has]
        if len(first):
            for axis, v in enumerate((self.vx, self.vy)):
                out[has, axis] = np.minimum.reduceat(v, first)
                out[has, axis + 2] = np.maximum.reduceat(v, first)
        other = np.flatnonzero(~has)
        if len(other):
            out[other] = shapely.bounds(self.geoms[other])
        return out

    @classmethod
    def from_geometries(cls, geoms: np.ndarray, centre: np.ndarray) -> StarPolygons:
        """Fan every polygon from its centre.

        Parameters
        ----------
        geoms
            Shapely polygons (a non-polygon or non-star one uses the fallback path).
        centre
            (n, 2) fan centres, e.g. the nucleus centres.

        Returns
        -------
        The fan structure.
        """
        geoms = np.asarray(geoms, dtype=object)
        n = len(geoms)
        is_poly = shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON
        if is_poly.all() and not shapely.get_num_interior_rings(geoms).any():
            # Polygons without holes: their coordinates are their exterior rings', without ring objects.
            xy, idx = shapely.get_coordinates(geoms, return_index=True)
        else:
            rings = np.where(is_poly, geoms, None)
            ext = shapely.get_exterior_ring(rings)
            xy, idx = shapely.get_coordinates(ext, return_index=True)
        return cls._build(xy, idx, centre, geoms.__getitem__, n=n, geoms=geoms)

    @classmethod
    def from_rings(
        cls, xy: np.ndarray, start: np.ndarray, centre: np.ndarray, polygons: Callable[[np.ndarray], np.ndarray]
    ) -> StarPolygons:
        """Fan polygons given as closed exterior rings, without shapely objects for the star ones.

        Parameters
        ----------
        xy
            ``(n_coords, 2)`` vertices of the rings, one ring after another.
        start
            ``(n + 1,)`` offsets of the rings in ``xy``.
        centre
            (n, 2) fan centres.
        polygons
            ``polygons(rows)`` gives shapely polygons of some rows; asked only for the rows
            that are not star-shaped about their centre (the fallback path needs them).

        Returns
        -------
        The fan structure, equal to :meth:`from_geometries` of the same polygons.
        """
        start = np.asarray(start, dtype=np.int64)
        n = len(start) - 1
        idx = np.repeat(np.arange(n), np.diff(start))
        return cls._build(np.asarray(xy, dtype=float), idx, centre, polygons, n=n)

    @classmethod
    def _build(
        cls,
        xy: np.ndarray,
        idx: np.ndarray,
        centre: np.ndarray,
        polygons: Callable[[np.ndarray], np.ndarray],
        *,
        n: int,
        geoms: np.ndarray | None = None,
    ) -> StarPolygons:
        """The fans of ``n`` rings (vertices ``xy``, ring of each vertex ``idx``; ``geoms``: all polygons, if held)."""
        centre = np.asarray(centre, dtype=float).reshape(n, 2)
        start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(idx, minlength=n), out=start[1:])
        fan = fan_rings(np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]), start,
                        np.ascontiguousarray(centre[:, 0]), np.ascontiguousarray(centre[:, 1]))
        star, area = fan.star, fan.area
        if geoms is None:
            # Shapely objects only where the fallback needs them (rows not star-shaped).
            geoms = np.empty(n, dtype=object)
            odd = np.flatnonzero(~star)
            if len(odd):
                geoms[odd] = polygons(odd)
        fallback = _fallback_triangles(geoms, ~star)
        fb_area = np.diff(np.concatenate([[0.0], fallback.cum]))
        fb_rows = np.repeat(np.arange(n), np.diff(fallback.start))
        area = area + np.bincount(fb_rows, weights=fb_area, minlength=n)
        row_base = np.concatenate([[0.0], fan.cum])[start[:-1]]
        sector_bins = bins_per_row(start, star, SECTOR_BINS_PER_TRIANGLE)
        sector_start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sector_bins, out=sector_start[1:])
        sector_lo = sector_table(fan.key, start, sector_bins, _SECTOR_MARGIN).astype(index_type(len(fan.key)))
        sector_bins = sector_bins.astype(np.float64)
        return cls(geoms=geoms, centre=centre, area=area, star=star, vx=fan.vx, vy=fan.vy, rvx=fan.rvx, rvy=fan.rvy,
                   start=start, cum=fan.cum, row_base=row_base, key=fan.key, theta0=fan.theta0, rmax=fan.rmax,
                   rmin=fan.rmin, cum_len=fan.cum_len, fallback=fallback, sector_bins=sector_bins,
                   sector_start=sector_start, sector_lo=sector_lo,
                   test_rows=np.column_stack([centre, fan.rmin**2, fan.rmax**2, fan.theta0, sector_bins]))

    # ------------------------------------------------------------------------------------
    # ------------------------------------------------------------------------------------
    def contains(self, rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether point k lies in polygon ``rows[k]`` (boundary counts as inside).

        Parameters
        ----------
        rows
            Polygon row of each point.
        x, y
            The points.

        Returns
        -------
        Boolean array.
        """
        rows = np.asarray(rows, dtype=np.intp)
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        out = np.zeros(len(rows), dtype=bool)
        # Star rows by the compiled test (star_kernels.star_contains), the others by shapely.
        if self.star.all():
            star_contains(self.kernel_arrays, rows, x, y, out)
            return out
        star = self.star[rows]
        s = np.flatnonzero(star)
        found = np.zeros(len(s), dtype=bool)
        star_contains(self.kernel_arrays, rows[s], x[s], y[s], found)
        out[s] = found
        f = np.flatnonzero(~star)
        if len(f):
            out[f] = shapely.intersects_xy(self.geoms[rows[f]], x[f], y[f])
        return out

    def _sector(self, r: np.ndarray, phi: np.ndarray, bins: np.ndarray) -> np.ndarray:
        """Edge of star row ``r[k]`` whose angular sector holds angle ``phi[k]`` (from ``theta0``)."""
        # The last j with key[j] <= r·8 + φ (clipped to the row's edges): the sector table
        # gives a lower bound, a short scan finds it exactly.
        t = r * _KEY_STRIDE
        t += phi
        g = phi * (bins * (1.0 / TWO_PI))
        g = np.minimum(g.astype(np.intp), bins.astype(np.intp) - 1)
        g += self.sector_start[r]
        j = self.sector_lo[g].astype(np.intp)
        scan_last(self.key, t, j, self.start[r + 1] - 2)
        return j

    # ------------------------------------------------------------------------------------
    def distance(self, rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Euclidean distance from point k to polygon ``rows[k]`` (0 inside or on it).

        A star row is measured by the compiled walk of
        :func:`~STpuppeteer.geometry.star_kernels.star_distance` (the point's own edge first, then
        edges further round only while they can still be nearer): the same minimum over
        edges as ``shapely.distance``, at a few edges a point. Other rows ask shapely.

        Parameters
        ----------
        rows
            Polygon row of each point.
        x, y
            The points.

        Returns
        -------
        Distances, float64.
        """
        rows = np.asarray(rows, dtype=np.intp)
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        out = np.empty(len(rows))
        star = self.star[rows]
        if star.all():
            star_distances(self.kernel_arrays, rows, x, y, out)
            return out
        s = np.flatnonzero(star)
        found = np.empty(len(s))
        star_distances(self.kernel_arrays, rows[s], x[s], y[s], found)
        out[s] = found
        f = np.flatnonzero(~star)
        out[f] = shapely.distance(self.geoms[rows[f]], shapely.points(x[f], y[f]))
        return out

    @cached_property
    def kernel_arrays(self) -> StarArrays:
        """The arrays the compiled kernels of :mod:`~STpuppeteer.geometry.star_kernels` read."""
        return StarArrays(
            cx=np.ascontiguousarray(self.centre[:, 0]), cy=np.ascontiguousarray(self.centre[:, 1]),
            theta0=self.theta0, rmin2=self.rmin**2, rmax2=self.rmax**2, start=self.start, key=self.key,
            vx=self.vx, vy=self.vy, sector_bins=self.sector_bins, sector_start=self.sector_start,
            sector_lo=self.sector_lo,
        )

def _fallback_triangles(geoms: np.ndarray, mask: np.ndarray) -> _Triangles:
    n = len(geoms)
    start = np.zeros(n + 1, dtype=np.int64)
    rows = np.flatnonzero(mask)
    empty = np.zeros((0, 2))
    if len(rows) == 0:
        return _Triangles(empty, empty, empty, start, np.zeros(0))
    tris = shapely.constrained_delaunay_triangles(geoms[rows])
    parts, pidx = shapely.get_parts(tris, return_index=True)
    xy, tidx = shapely.get_coordinates(parts, return_index=True)
    ok = np.bincount(tidx, minlength=len(parts)) == 4
    if not ok.all():
        msg = "unexpected triangulation output (a triangle without 4 ring coordinates)."
        raise RuntimeError(msg)
    xy = xy.reshape(len(parts), 4, 2)
    a, b, c = xy[:, 0], xy[:, 1], xy[:, 2]
    area = 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))
    per_row = np.bincount(rows[pidx], minlength=n)
    np.cumsum(per_row, out=start[1:])
    return _Triangles(a, b, c, start, np.cumsum(area))
