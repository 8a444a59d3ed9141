"""Uniform points in star polygons and on their boundaries (the sampling half of the fans).

:class:`StarSampling` is mixed into :class:`~STpuppeteer.geometry.star.StarPolygons`; it
reads the fan arrays that class builds. Sampling picks a triangle (centre, v_j, v_j+1) with
probability proportional to its area through the guide table of
:mod:`~STpuppeteer.geometry.star_tables`, then a barycentric point in it: one compiled loop
(numba) over the points; the boundary points are vectorised numpy, in chunks whose
temporaries stay in cache.
"""

from __future__ import annotations

from functools import cached_property

import numba
import numpy as np

from STpuppeteer.geometry.star_tables import CHUNK, TWO_PI, FanGuide, guide_table

__all__ = ["StarSampling", "fan_point"]


class StarSampling:
    """Sampling methods of :class:`~STpuppeteer.geometry.star.StarPolygons` (a mixin)."""

    @cached_property
    def fan_guide(self) -> FanGuide:
        """Guide table of the fan sampler, built on first use (many polygon sets never sample)."""
        bins, start, guide = guide_table(self.cum, self.row_base, self.area, self.start, self.star)
        return FanGuide(start, guide, np.column_stack([bins, self.area, self.row_base, self.centre]))

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
        fan = self.fan_guide
        _sample_fan_points(rows, u, fan.rows, fan.start, fan.guide, self.cum, self.rvx, self.rvy, px, py)
        if not full:
            x[where], y[where] = px, py

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
        for lo in range(0, len(rows), CHUNK):
            hi = min(lo + CHUNK, len(rows))
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
            ang = TWO_PI * u[1, off]
            radius = self.rmax[rows[off]]
            bx[off] = cx[off] + radius * np.cos(ang)
            by[off] = cy[off] + radius * np.sin(ang)
        dx, dy = bx - cx, by - cy
        norm = np.hypot(dx, dy)
        norm = np.where(norm > 0, norm, 1.0)
        np.divide(dx, norm, out=ux)
        np.divide(dy, norm, out=uy)


@numba.njit(inline="always", cache=True, nogil=True)
def fan_point(
    r: int,
    u0: float,
    u1: float,
    u2: float,
    guide_rows: np.ndarray,
    guide_start: np.ndarray,
    guide: np.ndarray,
    cum: np.ndarray,
    rvx: np.ndarray,
    rvy: np.ndarray,
) -> tuple[float, float]:
    """The point uniform in star row ``r`` that the uniforms ``u0, u1, u2`` give (:meth:`StarSampling.sample`).

    The triangle is the first j with ``cum[j] > target``: the guide table narrows it to
    ``[j, hi]``, most often a single triangle, and a short scan settles the rest exactly; then a
    barycentric point in it. The operations, in the same order, of the chunked numpy version it
    replaced (the same bits).
    """
    bins, area, base = guide_rows[r, 0], guide_rows[r, 1], guide_rows[r, 2]
    cx, cy = guide_rows[r, 3], guide_rows[r, 4]
    g = int(u0 * bins) + guide_start[r]  # exact: the bin counts are powers of two
    j = guide[g]
    hi = guide[g + 1]
    target = u0 * area + base
    while j < hi and cum[j] <= target:
        j += 1
    a, b = u1, u2
    if a + b > 1.0:
        a, b = 1.0 - a, 1.0 - b
    return rvx[j] * a + rvx[j + 1] * b + cx, rvy[j] * a + rvy[j + 1] * b + cy


@numba.njit(cache=True, nogil=True)
def _sample_fan_points(
    rows: np.ndarray,
    u: np.ndarray,
    guide_rows: np.ndarray,
    guide_start: np.ndarray,
    guide: np.ndarray,
    cum: np.ndarray,
    rvx: np.ndarray,
    rvy: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
) -> None:
    """Point ``k`` uniform in star row ``rows[k]`` from its three uniforms ``u[:, k]`` (:func:`fan_point`).

    The hot loop of stage 4: one compiled loop without the dozen numpy passes per chunk it replaced.
    """
    for k in range(len(rows)):
        px[k], py[k] = fan_point(rows[k], u[0, k], u[1, k], u[2, k], guide_rows, guide_start, guide, cum, rvx, rvy)
