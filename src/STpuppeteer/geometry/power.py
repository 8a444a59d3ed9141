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

import numpy as np
import shapely
from scipy.spatial import ConvexHull

__all__ = ["power_cells", "power_gaps"]

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
