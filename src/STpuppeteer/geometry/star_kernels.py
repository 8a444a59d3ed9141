"""Compiled kernels for polygons star-shaped about a centre: fanning the rings, and distances.

The vectorised numpy versions of these loops (one pass per edge visited, over every point
still active; some twenty whole-array passes to fan the rings) spent most of their time
re-indexing arrays and holding the GIL between calls. Here each ring or point is one numba
loop that releases the GIL, so the blocks of the streamed writer run truly in parallel.

A polygon set is passed to the point kernels as a :class:`StarArrays` tuple (built by
:meth:`STpuppeteer.geometry.star.StarPolygons.kernel_arrays`): numba takes plain arrays, not the
dataclass. Only star rows may be measured here; the caller sends the others to shapely.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

__all__ = [
    "KEY_STRIDE",
    "FanArrays",
    "StarArrays",
    "fan_rings",
    "sector_table",
    "star_contains",
    "star_contains_point",
    "star_distance",
    "star_distances",
]

_TWO_PI = 2.0 * math.pi
# A vertex's key is row * KEY_STRIDE + its angle from the ring's first vertex (< 2π): one
# sorted array for all rows.
KEY_STRIDE = 8.0


class StarArrays(NamedTuple):
    """The arrays of a :class:`~STpuppeteer.geometry.star.StarPolygons` that the kernels read."""

    cx: np.ndarray
    cy: np.ndarray
    theta0: np.ndarray
    rmin2: np.ndarray
    rmax2: np.ndarray
    start: np.ndarray
    key: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    sector_bins: np.ndarray
    sector_start: np.ndarray
    sector_lo: np.ndarray


# The point kernels do not allocate (callers pass the output arrays), so they need no numba
# reference counting: with it, every inlined call paid an atomic increment and decrement for
# each of the twelve arrays, more than the arithmetic of a point inside its polygon.
_KERNEL = {"cache": True, "nogil": True, "_nrt": False}


@numba.njit(inline="always", **_KERNEL)
def _edge_distance(vx: np.ndarray, vy: np.ndarray, m: int, x: float, y: float) -> float:
    ax, ay = vx[m], vy[m]
    ex, ey = vx[m + 1] - ax, vy[m + 1] - ay
    px, py = x - ax, y - ay
    length2 = ex * ex + ey * ey
    t = (px * ex + py * ey) / (length2 if length2 > 0.0 else 1.0)
    t = min(max(t, 0.0), 1.0)
    dx, dy = px - t * ex, py - t * ey
    return math.sqrt(dx * dx + dy * dy)


@numba.njit(inline="always", **_KERNEL)
def _stop_angle(best: float, rho: float) -> float:
    """Angle from the point's own beyond which no edge is nearer than ``best`` (ρ·sin δ ≥ best)."""
    return math.asin(best / rho) if best < rho else math.inf


@numba.njit(inline="always", **_KERNEL)
def star_distance(a: StarArrays, r: int, x: float, y: float) -> float:
    """Distance from ``(x, y)`` to star row ``r`` (0 inside or on it).

    The edge whose angular sector (seen from the centre) holds the point is measured first;
    an edge further round, at an angle δ from the point's own, is at least ρ·sin(min(δ, π/2))
    away (ρ the point's distance from the centre), so the walk round each side stops as soon
    as δ reaches the angle where that bound equals the best distance: the same minimum over
    edges as ``shapely.distance``, at a few edges a point.
    """
    dx = x - a.cx[r]
    dy = y - a.cy[r]
    d2 = dx * dx + dy * dy
    if d2 <= a.rmin2[r]:
        return 0.0
    phi = (math.atan2(dy, dx) - a.theta0[r]) % _TWO_PI
    first = a.start[r]
    last = a.start[r + 1] - 2  # the last real edge (the closing vertex starts none)
    # The sector: the last vertex with key <= r·stride + φ, from the table's lower bound.
    bins = a.sector_bins[r]
    g = min(int(phi * (bins * (1.0 / _TWO_PI))), int(bins) - 1)
    j = a.sector_lo[a.sector_start[r] + g]
    base = r * KEY_STRIDE
    target = base + phi
    while j < last and a.key[j + 1] <= target:
        j += 1
    vx, vy = a.vx, a.vy
    if d2 <= a.rmax2[r]:
        ex, ey = vx[j + 1] - vx[j], vy[j + 1] - vy[j]
        if ex * (y - vy[j]) - ey * (x - vx[j]) >= 0.0:
            return 0.0
    best = _edge_distance(vx, vy, j, x, y)
    rho = math.sqrt(d2)
    stop = _stop_angle(best, rho)
    left = last - first  # edges not yet measured
    # Forward: edge f begins at vertex f, at angle key[f] - base (plus 2π once it wrapped).
    f, wrap = j, 0.0
    while left > 0:
        f += 1
        if f > last:
            f, wrap = first, _TWO_PI
        if a.key[f] - base + wrap - phi >= stop:
            break
        d = _edge_distance(vx, vy, f, x, y)
        if d < best:
            best, stop = d, _stop_angle(d, rho)
        left -= 1
    # Backward: edge b ends at vertex b + 1 (minus 2π once it wrapped).
    b, wrap = j, 0.0
    while left > 0:
        b -= 1
        if b < first:
            b, wrap = last, _TWO_PI
        if phi - (a.key[b + 1] - base - wrap) >= stop:
            break
        d = _edge_distance(vx, vy, b, x, y)
        if d < best:
            best, stop = d, _stop_angle(d, rho)
        left -= 1
    return best


@numba.njit(**_KERNEL)
def star_distances(a: StarArrays, rows: np.ndarray, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """:func:`star_distance` of point ``k`` to star row ``rows[k]``, into ``out[k]``, for every ``k``."""
    for k in range(len(rows)):
        out[k] = star_distance(a, rows[k], x[k], y[k])


@numba.njit(inline="always", **_KERNEL)
def star_contains_point(a: StarArrays, r: int, px: float, py: float) -> bool:
    """Whether ``(px, py)`` lies in star row ``r`` (boundary inside).

    Within the inradius: inside; beyond the farthest vertex: outside; else the side of the edge
    whose angular sector holds the point. The operations (and ``atan2``, the same libm's) are those
    of the vectorised test it replaces, in the same order, so the answers are the same bits.
    """
    dx = px - a.cx[r]
    dy = py - a.cy[r]
    d2 = dx * dx + dy * dy
    if d2 <= a.rmin2[r]:
        return True
    if not d2 <= a.rmax2[r]:
        return False
    phi = (math.atan2(dy, dx) - a.theta0[r]) % _TWO_PI
    bins = a.sector_bins[r]
    g = min(int(phi * (bins * (1.0 / _TWO_PI))), int(bins) - 1)
    j = a.sector_lo[a.sector_start[r] + g]
    last = a.start[r + 1] - 2
    target = r * KEY_STRIDE + phi
    while j < last and a.key[j + 1] <= target:
        j += 1
    vx, vy = a.vx, a.vy
    ex, ey = vx[j + 1] - vx[j], vy[j + 1] - vy[j]
    return ex * (py - vy[j]) - ey * (px - vx[j]) >= 0.0


@numba.njit(**_KERNEL)
def star_contains(a: StarArrays, rows: np.ndarray, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """Whether point ``k`` lies in star row ``rows[k]`` (:func:`star_contains_point`), into ``out[k]``."""
    for k in range(len(rows)):
        out[k] = star_contains_point(a, rows[k], x[k], y[k])


class FanArrays(NamedTuple):
    """What :func:`fan_rings` computes for a set of rings (see ``StarPolygons`` for each)."""

    vx: np.ndarray
    vy: np.ndarray
    rvx: np.ndarray
    rvy: np.ndarray
    key: np.ndarray
    theta0: np.ndarray
    rmax: np.ndarray
    rmin: np.ndarray
    cum_len: np.ndarray
    cum: np.ndarray
    area: np.ndarray
    star: np.ndarray


@numba.njit(cache=True, nogil=True)
def fan_rings(x: np.ndarray, y: np.ndarray, start: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> FanArrays:
    """Fan every closed ring ``start[i]:start[i + 1]`` of ``(x, y)`` about ``(cx[i], cy[i])``.

    One pass per ring: orient it counter-clockwise, then per vertex its offset from the
    centre, the fan triangle's area and angle (centre, v_j, v_j+1; the closing vertex starts
    none), the distance from the centre to the edge, and the running sums (edge length and
    triangle area over all rings, angle from v_0 within the ring). A ring is star-shaped
    about its centre when every fan triangle is positive and the angles make one full turn.
    """
    n, m = len(start) - 1, len(x)
    vx, vy, rvx, rvy = np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    key, cum_len, cum, tri, dang = np.empty(m), np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    theta0, rmax, rmin, area = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    star = np.zeros(n, dtype=np.bool_)
    length_sum, area_sum = 0.0, 0.0
    for i in range(n):
        s, e = start[i], start[i + 1]
        if e == s:
            continue
        signed = 0.0
        for j in range(s, e - 1):
            signed += x[j] * y[j + 1] - x[j + 1] * y[j]
        for j in range(e - s):
            src = e - 1 - j if signed < 0.0 else s + j
            vx[s + j], vy[s + j] = x[src], y[src]
            rvx[s + j], rvy[s + j] = x[src] - cx[i], y[src] - cy[i]
        smallest, turn, farthest2 = math.inf, 0.0, 0.0
        for j in range(s, e):
            farthest2 = max(farthest2, rvx[j] * rvx[j] + rvy[j] * rvy[j])
            if j == e - 1:
                tri[j], dang[j] = 0.0, 0.0
                continue
            cross = rvx[j] * rvy[j + 1] - rvx[j + 1] * rvy[j]
            tri[j] = 0.5 * cross
            dang[j] = math.atan2(cross, rvx[j] * rvx[j + 1] + rvy[j] * rvy[j + 1])
            smallest = min(smallest, tri[j])
            turn += dang[j]
        is_star = e - s >= 4 and smallest > 0.0 and abs(turn - _TWO_PI) < 1e-6
        star[i], rmax[i] = is_star, math.sqrt(farthest2)
        theta0[i] = math.atan2(rvy[s], rvx[s])
        angle, nearest2, row_area = 0.0, math.inf, 0.0
        for j in range(s, e):
            key[j] = i * KEY_STRIDE + angle
            nxt = j + 1 if j < e - 1 else j
            ex, ey = vx[nxt] - vx[j], vy[nxt] - vy[j]
            seg2 = ex * ex + ey * ey
            length_sum += math.sqrt(seg2)
            cum_len[j] = length_sum
            if seg2 > 0.0:
                t = min(max(-(rvx[j] * ex + rvy[j] * ey) / seg2, 0.0), 1.0)
                qx, qy = rvx[j] + t * ex, rvy[j] + t * ey
                nearest2 = min(nearest2, qx * qx + qy * qy)
            if is_star:
                angle += dang[j]
                area_sum += tri[j]
                row_area += tri[j]
            cum[j] = area_sum
        rmin[i] = math.sqrt(nearest2) if is_star else 0.0
        area[i] = row_area
    return FanArrays(vx, vy, rvx, rvy, key, theta0, rmax, rmin, cum_len, cum, area, star)


@numba.njit(cache=True, nogil=True)
def sector_table(key: np.ndarray, start: np.ndarray, bins: np.ndarray, margin: float) -> np.ndarray:
    """The lowest sector of each slice: slice ``g`` of row ``i`` starts at ``g · 2π / bins[i] - margin``.

    Both the slices' angles and a row's keys increase, so one walk along the row finds the
    last vertex (at most the row's last edge) whose key is at or below each slice's start.
    """
    n = len(start) - 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        offsets[i + 1] = offsets[i] + bins[i]
    lo = np.empty(offsets[n], dtype=np.int64)
    for i in range(n):
        first = start[i]
        last_edge = max(start[i + 1] - 2, first)
        j = first
        for g in range(bins[i]):
            edge = g * (_TWO_PI / bins[i])
            edge -= margin
            edge += i * KEY_STRIDE
            while j < last_edge and key[j + 1] <= edge:
                j += 1
            lo[offsets[i] + g] = j
    return lo
