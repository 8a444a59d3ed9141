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

from STpuppeteer.geometry.star_kernels import KEY_STRIDE, StarArrays, fan_rings, sector_table, star_distances

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["StarPolygons"]

_TWO_PI = 2.0 * np.pi
# Angle keys are row * _KEY_STRIDE + angle in [0, 2π]; the stride keeps rows apart.
_KEY_STRIDE = KEY_STRIDE
# Guide slices per fan triangle (rounded up to a power of two): more slices settle more points
# without a scan, at 4 bytes a slice. The sampler's table pays off more than the sector table.
_GUIDE_BINS_PER_TRIANGLE = 4
_SECTOR_BINS_PER_TRIANGLE = 2
# Rows per chunk when the tables are built (their vertices and temporaries stay in cache).
_ROW_CHUNK = 128
# Margin (radians) of the sector table's slices: far above the rounding of a point's slice.
_SECTOR_MARGIN = 1e-9
# Points per chunk of the fan sampler (its temporaries, ~100 bytes a point, stay in L2).
_CHUNK = 16384


@dataclass(frozen=True)
class _Triangles:
    """Explicit triangles (fallback polygons), grouped by row."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    start: np.ndarray  # (n_rows + 1,) offsets, rows with no fallback have none
    cum: np.ndarray  # cumulative area, global


@dataclass(frozen=True)
class _FanGuide:
    """Guide table of the fan sampler.

    Row ``i`` splits its area into ``rows[i, 0]`` (a power of two) equal slices;
    ``guide[start[i] + g]`` is the triangle that slice ``g``'s lower end falls in, so a
    point's triangle lies between the guide entries of its slice and of the next. ``rows``
    holds each row's constants side by side (bins, area, base, centre x, centre y): one
    gather of a row's record costs far less than five gathers.
    """

    start: np.ndarray
    guide: np.ndarray
    rows: np.ndarray


@dataclass(frozen=True)
class StarPolygons:
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

    @cached_property
    def fan_guide(self) -> _FanGuide:
        """Guide table of the fan sampler, built on first use (many polygon sets never sample)."""
        bins, start, guide = _guide_table(self.cum, self.row_base, self.area, self.start, self.star)
        return _FanGuide(start, guide, np.column_stack([bins, self.area, self.row_base, self.centre]))

    # ------------------------------------------------------------------------------------
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
        sector_bins = _bins_per_row(start, star, _SECTOR_BINS_PER_TRIANGLE)
        sector_start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sector_bins, out=sector_start[1:])
        sector_lo = sector_table(fan.key, start, sector_bins, _SECTOR_MARGIN).astype(_index_type(len(fan.key)))
        sector_bins = sector_bins.astype(np.float64)
        return cls(geoms=geoms, centre=centre, area=area, star=star, vx=fan.vx, vy=fan.vy, rvx=fan.rvx, rvy=fan.rvy,
                   start=start, cum=fan.cum, row_base=row_base, key=fan.key, theta0=fan.theta0, rmax=fan.rmax,
                   rmin=fan.rmin, cum_len=fan.cum_len, fallback=fallback, sector_bins=sector_bins,
                   sector_start=sector_start, sector_lo=sector_lo,
                   test_rows=np.column_stack([centre, fan.rmin**2, fan.rmax**2, fan.theta0, sector_bins]))

    # ------------------------------------------------------------------------------------
    def sample(self, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Uniform points, one in each polygon ``rows[k]``.

        Parameters
        ----------
        rows
            Polygon row of each point (polygons of zero area are not allowed).
        rng
            Generator; three uniforms per point.

        Returns
        -------
        x and y of the points.
        """
        rows = np.asarray(rows, dtype=np.intp)
        u = rng.random((3, len(rows)))
        x = np.empty(len(rows))
        y = np.empty(len(rows))
        star = self.star[rows]
        if star.all():
            self._sample_fan(rows, u, x, y)
        else:
            self._sample_fan(rows[star], u[:, star], x, y, where=star)
            self._sample_fallback(rows[~star], u[:, ~star], x, y, where=~star)
        return x, y

    def _sample_fan(self, rows: np.ndarray, u: np.ndarray, x: np.ndarray, y: np.ndarray, *,
                    where: np.ndarray | None = None) -> None:
        n = len(rows)
        if n == 0:
            return
        full = where is None
        px = x if full else np.empty(n)
        py = y if full else np.empty(n)
        # Chunks that keep every temporary in the core's cache: the arithmetic is then bound
        # by the gathers, not by a dozen passes over memory.
        for lo in range(0, n, _CHUNK):
            hi = min(lo + _CHUNK, n)
            self._sample_fan_chunk(rows[lo:hi], u[:, lo:hi], px[lo:hi], py[lo:hi])
        if not full:
            x[where], y[where] = px, py

    def _sample_fan_chunk(self, rows: np.ndarray, u: np.ndarray, px: np.ndarray, py: np.ndarray) -> None:
        # In place, on the caller's fresh uniforms: this is the hot loop of stage 4. The
        # triangle is the first j with cum[j] > target (a binary search over the block would
        # cost ~20 cache-missing steps a point); the guide table narrows it to [j, hi], most
        # often a single triangle, and a short vectorised scan settles the rest exactly.
        fan = self.fan_guide
        rec = np.take(fan.rows, rows, axis=0)
        bins, area, base, cx, cy = rec.T
        target = u[0]
        slot = target * bins  # exact: the bin counts are powers of two
        k = slot.astype(np.intp)
        k += fan.start[rows]
        j = fan.guide[k]
        k += 1
        hi = fan.guide[k]
        target *= area
        target += base
        _scan(self.cum, target, j, hi)
        j1 = j + 1
        a, b = u[1], u[2]
        # Indices, not a mask: masked ufuncs and boolean scatters are several times slower.
        over = np.flatnonzero(a + b > 1.0)
        a[over] = 1.0 - a[over]
        b[over] = 1.0 - b[over]
        tmp = np.empty(len(rows))
        for out, rv, c in ((px, self.rvx, cx), (py, self.rvy, cy)):
            np.take(rv, j, out=out)
            out *= a
            np.take(rv, j1, out=tmp)
            tmp *= b
            out += tmp
            out += c

    def _sample_fallback(self, rows: np.ndarray, u: np.ndarray, x: np.ndarray, y: np.ndarray, *,
                         where: np.ndarray) -> None:
        if len(rows) == 0:
            return
        fb = self.fallback
        lo, hi = fb.start[rows], fb.start[rows + 1]
        if np.any(hi <= lo):
            msg = "cannot place molecules in a polygon of zero area (empty or degenerate geometry)."
            raise ValueError(msg)
        base = np.where(lo > 0, fb.cum[np.maximum(lo - 1, 0)], 0.0)
        top = fb.cum[hi - 1]
        j = np.clip(np.searchsorted(fb.cum, base + u[0] * (top - base), side="right"), lo, hi - 1)
        r1_, r2_ = u[1], u[2]
        over = r1_ + r2_ > 1.0
        r1_ = np.where(over, 1.0 - r1_, r1_)
        r2_ = np.where(over, 1.0 - r2_, r2_)
        a, b, c = fb.a[j], fb.b[j], fb.c[j]
        p = a + r1_[:, None] * (b - a) + r2_[:, None] * (c - a)
        x[where], y[where] = p[:, 0], p[:, 1]

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
        for lo in range(0, len(rows), _CHUNK):
            hi = min(lo + _CHUNK, len(rows))
            out[lo:hi] = self._contains_chunk(rows[lo:hi], x[lo:hi], y[lo:hi])
        return out

    def _contains_chunk(self, rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        star = self.star[rows]
        rec = np.take(self.test_rows, rows, axis=0)
        cx, cy, rmin2, rmax2, theta0, sector_bins = rec.T
        dx = x - cx
        dy = y - cy
        d2 = dx * dx
        d2 += dy * dy
        # Cheap answers first: within the inradius (inside) or beyond the farthest vertex (outside).
        out = star & (d2 <= rmin2)
        s = np.flatnonzero(star & ~out & (d2 <= rmax2))
        if len(s):
            r = rows[s]
            phi = np.mod(np.arctan2(dy[s], dx[s]) - theta0[s], _TWO_PI)
            j = self._sector(r, phi, sector_bins[s])
            j1 = j + 1
            vxj, vyj = self.vx[j], self.vy[j]
            ex = self.vx[j1] - vxj
            ey = self.vy[j1] - vyj
            out[s] = ex * (y[s] - vyj) - ey * (x[s] - vxj) >= 0.0
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
        g = phi * (bins * (1.0 / _TWO_PI))
        g = np.minimum(g.astype(np.intp), bins.astype(np.intp) - 1)
        g += self.sector_start[r]
        j = self.sector_lo[g].astype(np.intp)
        _scan_last(self.key, t, j, self.start[r + 1] - 2)
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

    # ------------------------------------------------------------------------------------
    def exit_points(self, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Points on the boundary, uniform by length, with the outward ray from the centre.

        A point moved any distance along its ray stays outside a star-shaped polygon. For a
        fallback polygon the point is placed on the circle of radius ``rmax`` about the
        centre (outside or on the polygon), at a uniform angle.

        Parameters
        ----------
        rows
            Polygon row of each point.
        rng
            Generator; two uniforms per point.

        Returns
        -------
        x, y of the boundary points and the unit ray directions ux, uy.
        """
        rows = np.asarray(rows, dtype=np.intp)
        u = rng.random((2, len(rows)))
        out = tuple(np.empty(len(rows)) for _ in range(4))
        for lo in range(0, len(rows), _CHUNK):
            hi = min(lo + _CHUNK, len(rows))
            self._exit_chunk(rows[lo:hi], u[:, lo:hi], *(o[lo:hi] for o in out))
        return out

    def _exit_chunk(self, rows: np.ndarray, u: np.ndarray, bx: np.ndarray, by: np.ndarray,
                    ux: np.ndarray, uy: np.ndarray) -> None:
        if len(rows) == 0:
            return
        cx = self.centre[:, 0][rows]
        cy = self.centre[:, 1][rows]
        cum = self.cum_len
        lo, hi = self.start[rows], self.start[rows + 1]
        base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
        top = np.where(hi > lo, cum[np.maximum(hi - 1, 0)], 0.0)
        target = base + u[0] * (top - base)
        # Search only the chunk's span of the cumulative lengths (small, cache-resident); the
        # clip below makes the answer the same as a search of the whole array.
        r0, r1 = self.start[rows.min()], self.start[rows.max() + 1]
        j = np.searchsorted(cum[r0:r1], target, side="right")
        j += r0
        j = np.clip(j, lo, np.maximum(hi - 2, lo))
        j = np.minimum(j, max(len(self.vx) - 1, 0))
        star = self.star[rows]
        jn = np.where(star, j + 1, j)
        if len(self.vx):
            vxj, vyj = self.vx[j], self.vy[j]
            np.multiply(u[1], self.vx[jn] - vxj, out=bx)
            bx += vxj
            np.multiply(u[1], self.vy[jn] - vyj, out=by)
            by += vyj
        else:
            bx[:], by[:] = 0.0, 0.0
        off = np.flatnonzero(~star)
        if len(off):
            # Fallback polygons: a uniform angle on the circle of radius rmax (cos and sin only here).
            ang = _TWO_PI * u[1, off]
            radius = self.rmax[rows[off]]
            bx[off] = cx[off] + radius * np.cos(ang)
            by[off] = cy[off] + radius * np.sin(ang)
        dx, dy = bx - cx, by - cy
        norm = np.hypot(dx, dy)
        norm = np.where(norm > 0, norm, 1.0)
        np.divide(dx, norm, out=ux)
        np.divide(dy, norm, out=uy)


def _bins_per_row(start: np.ndarray, star: np.ndarray, per_triangle: int) -> np.ndarray:
    """Slices per row: a power of two, at least ``per_triangle`` per fan triangle."""
    n_tri = np.where(star, np.diff(start) - 1, 0)
    bins = np.ones(len(n_tri), dtype=np.int64)
    pos = n_tri > 1
    bins[pos] = per_triangle << np.ceil(np.log2(n_tri[pos])).astype(np.int64)
    return bins


def _index_type(n: int) -> type:
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


def _guide_table(cum: np.ndarray, row_base: np.ndarray, area: np.ndarray, start: np.ndarray,
                 star: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Guide table of the fan sampler (bins per row, offsets, triangle at each bin edge).

    The edges are computed with the sampler's own arithmetic (``base + (g / bins) * area``,
    with ``g / bins`` exact), so rounding cannot move a target outside its bin's range.
    Built row chunk by row chunk: every temporary, and the chunk's span of ``cum`` that the
    edges are searched in, stays in cache.
    """
    n = len(area)
    bins = _bins_per_row(start, star, _GUIDE_BINS_PER_TRIANGLE)
    guide_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(bins + 1, out=guide_start[1:])
    guide = np.empty(guide_start[-1], dtype=_index_type(len(cum)))
    for a in range(0, n, _ROW_CHUNK):
        b = min(a + _ROW_CHUNK, n)
        row = np.repeat(np.arange(a, b), bins[a:b] + 1)
        g = np.arange(guide_start[a], guide_start[b]) - guide_start[row]
        edge = g / bins[row]
        edge *= area[row]
        edge += row_base[row]
        # An answer beyond the chunk's span is clipped to the row's last triangle anyway.
        idx = np.searchsorted(cum[start[a]:start[b]], edge, side="right")
        idx += start[a]
        np.minimum(idx, np.maximum(start[row + 1] - 2, 0), out=idx)
        guide[guide_start[a]:guide_start[b]] = idx
    return bins.astype(np.float64), guide_start, guide


def _scan(cum: np.ndarray, target: np.ndarray, j: np.ndarray, hi: np.ndarray) -> None:
    """Advance ``j`` in place to the first index with ``cum > target``, at most ``hi``."""
    active = np.flatnonzero(j < hi)
    while len(active):
        ja = j[active]
        step = cum[ja] <= target[active]
        active = active[step]
        ja = ja[step] + 1
        j[active] = ja
        active = active[ja < hi[active]]


def _scan_last(key: np.ndarray, target: np.ndarray, j: np.ndarray, hi: np.ndarray) -> None:
    """Advance ``j`` in place to the last index with ``key <= target``, at most ``hi``."""
    active = np.flatnonzero(j < hi)
    while len(active):
        nxt = j[active] + 1
        step = key[nxt] <= target[active]
        active = active[step]
        nxt = nxt[step]
        j[active] = nxt
        active = active[nxt < hi[active]]


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
