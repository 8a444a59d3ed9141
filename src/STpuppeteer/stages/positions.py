"""Stage 2a: the tissue region and blue-noise (hard-core) cell centres inside it.

Centres start as a jittered grid (one point per grid square of the target density, so
counts are already even at every scale) and are then pushed apart pairwise until no two
are closer than the hard-core distance: a vectorised relaxation with a k-d tree, a few
tens of sweeps, no per-cell Python loop.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely import affinity

from STpuppeteer.config.tissue_checks import tissue_area_um2

if TYPE_CHECKING:
    from STpuppeteer.config.tissue import TissueConfig

__all__ = ["sample_centres", "tissue_region", "uniform_points"]

# Pairs are pushed to slightly beyond the hard-core distance so they do not sit on its edge
# and come back in the next sweep.
_PUSH_MARGIN = 1.05
_MAX_SWEEPS = 60
# How many times the boundary margin may be halved to fit a small region (margin / 64 at the least).
_MARGIN_HALVINGS = 6


def tissue_region(tissue: TissueConfig, n_cells: int) -> shapely.Polygon:
    """The tissue polygon in µm, its bounding box's lower-left corner at (0, 0).

    Parameters
    ----------
    tissue
        The tissue config: a rectangle of ``aspect_ratio`` sized to hold ``n_cells`` at
        ``density_per_mm2``, or ``mask_um`` (rescaled to that area if ``fit_mask_to_density``).
    n_cells
        Number of cells.

    Returns
    -------
    A valid polygon of area ``n_cells / density`` (or the mask's own area).

    Examples
    --------
    >>> from STpuppeteer.config import TissueConfig
    >>> round(tissue_region(TissueConfig(density_per_mm2=2500), 10_000).area)
    4000000
    """
    area = tissue_area_um2(tissue, n_cells)
    if tissue.mask_um is None:
        width = math.sqrt(area * tissue.aspect_ratio)
        return shapely.box(0.0, 0.0, width, area / width)
    polygon = shapely.orient_polygons(shapely.Polygon(tissue.mask_um))
    if tissue.fit_mask_to_density:
        factor = math.sqrt(area / polygon.area)
        polygon = affinity.scale(polygon, xfact=factor, yfact=factor, origin=(0.0, 0.0))
    x0, y0, _, _ = polygon.bounds
    return affinity.translate(polygon, -x0, -y0)


def _is_rectangle(region: shapely.Polygon) -> bool:
    return bool(shapely.equals(region, shapely.envelope(region)))


def _inside(region: shapely.Polygon, xy: np.ndarray) -> np.ndarray:
    return shapely.contains_xy(region, xy[:, 0], xy[:, 1])


def uniform_points(region: shapely.Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 2)`` points uniform in ``region`` (rejection sampling in vectorised batches).

    Parameters
    ----------
    region
        A polygon.
    n
        Number of points.
    rng
        Source of randomness.

    Returns
    -------
    The points' x, y.
    """
    x0, y0, x1, y1 = region.bounds
    fill = max(region.area / ((x1 - x0) * (y1 - y0)), 1e-3)
    found: list[np.ndarray] = []
    n_found = 0
    while n_found < n:
        batch = int(1.2 * (n - n_found) / fill) + 16
        xy = rng.uniform((x0, y0), (x1, y1), size=(batch, 2))
        xy = xy[_inside(region, xy)]
        found.append(xy)
        n_found += len(xy)
    return np.concatenate(found)[:n]


def _jittered_grid(region: shapely.Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = region.bounds
    step = math.sqrt(region.area / n)
    nx, ny = max(1, math.ceil((x1 - x0) / step)), max(1, math.ceil((y1 - y0) / step))
    gx, gy = np.meshgrid(np.arange(nx), np.arange(ny))
    xy = np.column_stack([gx.ravel(), gy.ravel()]).astype(float)
    xy = (xy + rng.random(xy.shape)) * step + (x0, y0)
    xy = xy[_inside(region, xy)]
    if len(xy) > n:
        keep = np.sort(rng.choice(len(xy), size=n, replace=False))
        return xy[keep]
    if len(xy) < n:
        return np.concatenate([xy, uniform_points(region, n - len(xy), rng)])
    return xy


def _pair_push(xy: np.ndarray, tree: cKDTree, radius: float) -> tuple[np.ndarray, float]:
    pairs = tree.query_pairs(radius, output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros_like(xy), math.inf
    i, j = pairs[:, 0], pairs[:, 1]
    delta = xy[j] - xy[i]
    dist = np.hypot(delta[:, 0], delta[:, 1])
    # Coincident points get an arbitrary but deterministic direction.
    delta[dist == 0] = (1.0, 0.0)
    dist = np.maximum(dist, 1e-9)
    push = delta * (0.5 * (radius - dist) / dist)[:, None]
    n = len(xy)
    move = np.empty_like(xy)
    for axis in range(2):
        move[:, axis] = np.bincount(j, push[:, axis], n) - np.bincount(i, push[:, axis], n)
    return move, float(dist.min())


def sample_centres(
    region: shapely.Polygon,
    n_cells: int,
    rng: np.random.Generator,
    *,
    min_distance_um: float,
    margin_um: float = 0.0,
) -> np.ndarray:
    """Exactly ``n_cells`` blue-noise centres inside ``region``.

    Parameters
    ----------
    region
        The tissue polygon (µm).
    n_cells
        Number of centres.
    rng
        Source of randomness.
    min_distance_um
        Hard-core distance the relaxation enforces between centres (met by all pairs unless
        the region is too crowded; callers must not rely on it for geometry invariants).
    margin_um
        Centres keep this distance from the region's boundary (room for the nucleus).

    Returns
    -------
    ``(n_cells, 2)`` float array of x, y in µm.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> xy = sample_centres(shapely.box(0, 0, 1000, 1000), 2200, np.random.default_rng(0), min_distance_um=15)
    >>> xy.shape
    (2200, 2)
    """
    inner = region
    # A region too small or thin for the margin (a few cells, a sliver) takes the largest of
    # margin/2, margin/4 … that leaves it half its area: centres on the boundary itself would
    # leave their nuclei no room at all.
    for margin in margin_um / 2.0 ** np.arange(_MARGIN_HALVINGS + 1) if margin_um > 0 else ():
        shrunk = shapely.buffer(region, -margin)
        if isinstance(shrunk, shapely.Polygon) and shrunk.area > 0.5 * region.area:
            inner = shrunk
            break
    xy = _jittered_grid(inner, n_cells, rng)
    if min_distance_um <= 0 or n_cells < 2:
        return xy
    rectangle = _is_rectangle(inner)
    lo, hi = np.array(inner.bounds[:2]), np.array(inner.bounds[2:])
    radius = _PUSH_MARGIN * min_distance_um
    for _ in range(_MAX_SWEEPS):
        move, closest = _pair_push(xy, cKDTree(xy), radius)
        if closest >= min_distance_um:
            break
        moved = xy + move
        if rectangle:
            np.clip(moved, lo, hi, out=moved)
        else:
            # Moves that leave a non-rectangular region are undone; neighbours still move away.
            outside = ~_inside(inner, moved)
            moved[outside] = xy[outside]
        xy = moved
    return xy
