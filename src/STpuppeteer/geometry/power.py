"""Power (Laguerre) cells: the weighted Voronoi diagram whose cells are convex polygons.

The power cell of site i with weight wᵢ is {x : |x − pᵢ|² − wᵢ ≤ |x − pⱼ|² − wⱼ for all j}.
Cells tile the plane without overlap; a larger weight gives a larger cell. It is computed from
the lower convex hull of the sites lifted to (x, y, x² + y² − w) (the regular triangulation):
each lower facet's plane z = αx + βy + γ meets the three power functions at the vertex
(α/2, β/2), and a site's cell is the polygon of its facets' vertices in angular order, which
is correct whenever the site lies inside its own cell (:func:`power_gaps` > 0 for every pair,
which callers ensure). A frame of far sites of the least weight bounds every cell.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import shapely
from scipy.spatial import ConvexHull

__all__ = ["lower_gap_bounds", "power_cells", "power_gaps"]

# Sites of the bounding frame: enough that no real cell reaches a frame site's cell.
_N_FRAME = 16


def power_gaps(xy_i: np.ndarray, xy_j: np.ndarray, w_i: np.ndarray, w_j: np.ndarray) -> np.ndarray:
    """Distance from site i to the power bisector of the pair (i, j), positive on i's side.

    Parameters
    ----------
    xy_i, xy_j
        ``(m, 2)`` sites of the pairs.
    w_i, w_j
        ``(m,)`` their weights.

    Returns
    -------
    ``(m,)`` signed distances ``(d² + wᵢ − wⱼ) / (2d)``; a disc of this radius about i lies in
    i's half-plane.
    """
    d = np.hypot(*(xy_j - xy_i).T)
    return (d * d + w_i - w_j) / (2.0 * np.maximum(d, 1e-12))


def lower_gap_bounds(xy: np.ndarray, weights: np.ndarray, i: np.ndarray, j: np.ndarray, gap: np.ndarray) -> None:
    """Lower ``gap`` in place to :func:`power_gaps` of each pair, from either side.

    The same as ``np.minimum.at(gap, i, power_gaps(xy[i], xy[j], w[i], w[j]))`` then the same
    with ``i`` and ``j`` swapped (same arithmetic, same order, ``np.minimum``'s rule for ties
    and NaN), in one compiled pass without the pairs' temporaries.

    Parameters
    ----------
    xy
        ``(n, 2)`` sites.
    weights
        ``(n,)`` their weights.
    i, j
        ``(m,)`` the pairs.
    gap
        ``(n,)`` bounds to lower.

    Examples
    --------
    >>> xy, w = np.array([[0.0, 0.0], [4.0, 0.0]]), np.array([4.0, 0.0])
    >>> gap = np.full(2, np.inf)
    >>> lower_gap_bounds(xy, w, np.array([0]), np.array([1]), gap)
    >>> gap.tolist()
    [2.5, 1.5]
    """
    xy = np.ascontiguousarray(xy, dtype=np.float64)
    _lower_gaps(xy[:, 0].copy(), xy[:, 1].copy(), np.asarray(weights, dtype=np.float64), np.asarray(i),
                np.asarray(j), gap)


@numba.njit(inline="always", cache=True, nogil=True)
def _gap(xa: float, ya: float, xb: float, yb: float, wa: float, wb: float) -> float:
    # power_gaps of one pair: (d² + w_a − w_b) / (2 max(d, 1e-12)), d = hypot (the libm's, as numpy's).
    d = math.hypot(xb - xa, yb - ya)
    safe = d if (d > 1e-12 or d != d) else 1e-12
    return (d * d + wa - wb) / (2.0 * safe)


@numba.njit(cache=True, nogil=True)
def _lower_gaps(x: np.ndarray, y: np.ndarray, w: np.ndarray, i: np.ndarray, j: np.ndarray, gap: np.ndarray) -> None:
    # np.minimum(a, b) is a when a < b or a is NaN, else b: ties and NaN as numpy, updates in numpy's order.
    for k in range(len(i)):
        a, b = i[k], j[k]
        g = _gap(x[a], y[a], x[b], y[b], w[a], w[b])
        if not (gap[a] < g or gap[a] != gap[a]):
            gap[a] = g
    for k in range(len(i)):
        a, b = j[k], i[k]
        g = _gap(x[a], y[a], x[b], y[b], w[a], w[b])
        if not (gap[a] < g or gap[a] != gap[a]):
            gap[a] = g


def power_cells(xy: np.ndarray, weights: np.ndarray, n_own: int) -> tuple[np.ndarray, np.ndarray]:
    """Power cells of the first ``n_own`` sites among ``xy``.

    Parameters
    ----------
    xy
        ``(n, 2)`` sites; the first ``n_own`` are those whose cells are built, the rest only
        cut them.
    weights
        ``(n,)`` weights (µm²).
    n_own
        How many leading sites get a cell.

    Returns
    -------
    ``(cells, reach)``: ``(n_own,)`` convex polygons, and the largest distance of each
    polygon's vertices from its site.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    >>> cells, _ = power_cells(xy, np.array([50.0, 0.0, 0.0, 0.0]), 1)
    >>> round(float(cells[0].area), 1) > 100.0
    True
    """
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    centre = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])
    # Far enough that frame cells never reach the real sites' cells, with slightly uneven radii
    # so no four lifted frame points are coplanar.
    radius = 2.0 * math.hypot(x1 - x0, y1 - y0) + 2.0 * math.sqrt(max(float(np.ptp(weights)), 0.0)) + 100.0
    angle = np.arange(_N_FRAME) * (2.0 * math.pi / _N_FRAME)
    ring = radius * (1.0 + 0.01 * np.arange(_N_FRAME) / _N_FRAME)
    frame = centre + np.column_stack([ring * np.cos(angle), ring * np.sin(angle)])
    sites = np.concatenate([xy, frame]) - centre
    w = np.concatenate([weights, np.full(_N_FRAME, float(weights.min(initial=0.0)))])
    lifted = np.column_stack([sites, np.einsum("ij,ij->i", sites, sites) - w])
    hull = ConvexHull(lifted)
    lower = hull.equations[:, 2] < 0
    eq, simplices = hull.equations[lower], hull.simplices[lower]
    vertex = np.column_stack([-eq[:, 0] / (2.0 * eq[:, 2]), -eq[:, 1] / (2.0 * eq[:, 2])])

    site = simplices.ravel()
    facet = np.repeat(np.arange(len(simplices)), 3)
    keep = site < n_own
    site, facet = site[keep], facet[keep]
    rel = vertex[facet] - sites[site]
    order = np.lexsort((np.arctan2(rel[:, 1], rel[:, 0]), site))
    site, facet = site[order], facet[order]
    counts = np.bincount(site, minlength=n_own)
    if np.any(counts < 3):
        msg = "a site has no power cell (it lies outside its own cell); its weight is too small for its neighbours"
        raise ValueError(msg)
    # Rings closed by repeating each cell's first vertex.
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ring_len = counts + 1
    ring_start = np.concatenate([[0], np.cumsum(ring_len)])
    coords = np.empty((ring_start[-1], 2))
    pos = np.arange(len(site)) - np.repeat(starts, counts) + np.repeat(ring_start[:-1], counts)
    coords[pos] = vertex[facet] + centre
    coords[ring_start[1:] - 1] = vertex[facet[starts]] + centre
    cells = shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, (ring_start, np.arange(n_own + 1)))
    dist = np.hypot(*(vertex[facet] - sites[site]).T)
    reach = np.maximum.reduceat(dist, starts) if n_own else np.empty(0)
    return cells, reach
