"""Lookup tables of the star-polygon fans: guide slices, sector slices, exact short scans.

Both lookups of :mod:`~STpuppeteer.geometry.star` (a triangle by cumulative area, a sector by
angle) go through per-row tables of equal slices and a short exact scan, which returns what
a binary search would without its ~20 cache-missing steps a point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = [
    "CHUNK",
    "GUIDE_BINS_PER_TRIANGLE",
    "ROW_CHUNK",
    "SECTOR_BINS_PER_TRIANGLE",
    "TWO_PI",
    "FanGuide",
    "bins_per_row",
    "guide_table",
    "index_type",
    "scan",
    "scan_last",
]

TWO_PI = 2.0 * np.pi
# Guide slices per fan triangle (rounded up to a power of two): more slices settle more points
# without a scan, at 4 bytes a slice. The sampler's table pays off more than the sector table.
GUIDE_BINS_PER_TRIANGLE = 4
SECTOR_BINS_PER_TRIANGLE = 2
# Rows per chunk when the tables are built (their vertices and temporaries stay in cache).
ROW_CHUNK = 128
# Points per chunk of the fan sampler and the tests (their temporaries, ~100 bytes a point, stay in L2).
CHUNK = 16384


@dataclass(frozen=True)
class FanGuide:
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


def bins_per_row(start: np.ndarray, star: np.ndarray, per_triangle: int) -> np.ndarray:
    """Slices per row: a power of two, at least ``per_triangle`` per fan triangle."""
    n_tri = np.where(star, np.diff(start) - 1, 0)
    bins = np.ones(len(n_tri), dtype=np.int64)
    pos = n_tri > 1
    bins[pos] = per_triangle << np.ceil(np.log2(n_tri[pos])).astype(np.int64)
    return bins


def index_type(n: int) -> type:
    """The smallest integer type (int32 or int64) that indexes ``n`` entries."""
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


def guide_table(cum: np.ndarray, row_base: np.ndarray, area: np.ndarray, start: np.ndarray,
                 star: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Guide table of the fan sampler (bins per row, offsets, triangle at each bin edge).

    The edges are computed with the sampler's own arithmetic (``base + (g / bins) * area``,
    with ``g / bins`` exact), so rounding cannot move a target outside its bin's range.
    Built row chunk by row chunk: every temporary, and the chunk's span of ``cum`` that the
    edges are searched in, stays in cache.
    """
    n = len(area)
    bins = bins_per_row(start, star, GUIDE_BINS_PER_TRIANGLE)
    guide_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(bins + 1, out=guide_start[1:])
    guide = np.empty(guide_start[-1], dtype=index_type(len(cum)))
    if np.isfinite(cum).all() and np.isfinite(area).all() and np.isfinite(row_base).all():
        _guide_walk(cum, row_base, area, start, bins, guide_start, guide)
        return bins.astype(np.float64), guide_start, guide
    # Not finite (a degenerate polygon): the vectorised search, whose answer the walk reproduces otherwise.
    for a in range(0, n, ROW_CHUNK):
        b = min(a + ROW_CHUNK, n)
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


@numba.njit(cache=True, nogil=True)
def _guide_walk(
    cum: np.ndarray,
    row_base: np.ndarray,
    area: np.ndarray,
    start: np.ndarray,
    bins: np.ndarray,
    guide_start: np.ndarray,
    guide: np.ndarray,
) -> None:
    # The guide entries by one walk along each row: what the vectorised search of guide_table gives.
    # Its answer for an edge is the first index past every cum <= edge, clipped to the row's last
    # triangle (cap). Everything before the row's first vertex is at most row_base <= edge (cum never
    # falls), and the edges rise with g, so a walk from the row's start that stops at cap finds it.
    for i in range(len(area)):
        cap = max(start[i + 1] - 2, 0)
        j = start[i]
        n_bins = bins[i]
        for g in range(n_bins + 1):
            edge = g / n_bins
            edge *= area[i]
            edge += row_base[i]
            while j < cap and cum[j] <= edge:
                j += 1
            guide[guide_start[i] + g] = min(j, cap)


def scan(cum: np.ndarray, target: np.ndarray, j: np.ndarray, hi: np.ndarray) -> None:
    """Advance ``j`` in place to the first index with ``cum > target``, at most ``hi``."""
    active = np.flatnonzero(j < hi)
    while len(active):
        ja = j[active]
        step = cum[ja] <= target[active]
        active = active[step]
        ja = ja[step] + 1
        j[active] = ja
        active = active[ja < hi[active]]


def scan_last(key: np.ndarray, target: np.ndarray, j: np.ndarray, hi: np.ndarray) -> None:
    """Advance ``j`` in place to the last index with ``key <= target``, at most ``hi``."""
    active = np.flatnonzero(j < hi)
    while len(active):
        nxt = j[active] + 1
        step = key[nxt] <= target[active]
        active = active[step]
        nxt = nxt[step]
        j[active] = nxt
        active = active[nxt < hi[active]]
