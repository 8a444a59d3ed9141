"""Stage 2a′: pack the cell centres as hard ellipses of each cell's own size and shape.

The blue-noise centres (:mod:`.positions`) are all alike. Once each cell has a target area and
(for elongated types) a direction, the centres are pushed apart pairwise until no two of their
ellipses overlap: ellipse i has the area ``(ratio² · π / (2√3)) · Aᵢ`` (so with equal areas the
contact distance is the hard-core distance ``ratio × hexagonal spacing`` of :mod:`.positions`),
axis ratio ``eᵢ`` and its long axis along θᵢ. Two ellipses touch, to first order, at the sum
of their radii along the line joining the centres. Large cells so get room for a large power
cell and elongated ones get their neighbours close across and far along their axis, which is
what makes their power cells long (:mod:`STpuppeteer.geometry.power`).
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from scipy.spatial import cKDTree

__all__ = ["contact_radius", "equivalent_radius", "pack_ellipses"]

_MAX_SWEEPS = 12
_REBUILD_EVERY = 4
# Pairs are pushed slightly beyond contact so they do not come back in the next sweep.
_PUSH_MARGIN = 1.03
# Sweeps stop once every pair is within this fraction of contact.
_TOLERANCE = 0.99
# Each centre moves at most this fraction of its own radius a sweep (crowds relax smoothly).
_MAX_STEP = 0.5


def equivalent_radius(area: np.ndarray, ratio: float) -> np.ndarray:
    """Radius of the disc a cell of target ``area`` claims at hard-core ratio ``ratio``.

    Parameters
    ----------
    area
        Target cell areas, µm².
    ratio
        ``tissue.min_distance_ratio``.

    Returns
    -------
    ``ratio · √(A / (2√3))``: half the hard-core distance of a tissue of cells of area A.
    """
    return ratio * np.sqrt(np.asarray(area, dtype=float) / (2.0 * math.sqrt(3.0)))


def contact_radius(radius: np.ndarray, aspect: np.ndarray, cos_phi: np.ndarray, sin_phi: np.ndarray) -> np.ndarray:
    """Radius of ellipses along a direction at angle φ from their long axis.

    Parameters
    ----------
    radius
        Radius of the disc of the same area.
    aspect
        Major over minor axis e (1 = disc).
    cos_phi, sin_phi
        Cosine and sine of the angle between the direction and the long axis.

    Returns
    -------
    ``r / √(cos²φ / e + e sin²φ)``: the distance from the centre to the boundary of the
    ellipse of semi-axes ``r√e`` and ``r/√e`` along the direction.
    """
    return radius / np.sqrt(cos_phi * cos_phi / aspect + aspect * sin_phi * sin_phi)


def pack_ellipses(
    xy: np.ndarray,
    region: shapely.Polygon,
    *,
    radius: np.ndarray,
    aspect: np.ndarray,
    theta: np.ndarray,
) -> np.ndarray:
    """Move centres until their ellipses (nearly) stop overlapping.

    A vectorised relaxation: each sweep finds the pairs within reach with a k-d tree and
    pushes every overlapping pair apart along the line joining them, each by half the
    overlap. Moves that would leave the region are undone (neighbours still move away).

    Parameters
    ----------
    xy
        ``(n, 2)`` starting centres inside ``region``.
    region
        The tissue polygon.
    radius, aspect, theta
        Per cell: equivalent radius, axis ratio and major-axis angle (:func:`contact_radius`).

    Returns
    -------
    ``(n, 2)`` moved centres, still inside the region.
    """
    xy = np.array(xy, dtype=float)
    if len(xy) < 2:
        return xy
    extent = radius * np.sqrt(aspect)
    # Neighbour lists (pairs within reach plus a skin) are rebuilt only every few sweeps: a pair
    # outside them is too far to touch before the next rebuild unless a rare giant cell moves far.
    reach = 2.0 * float(np.quantile(extent, 0.99))
    skin = 0.5 * float(np.median(radius))
    is_box = bool(shapely.equals(region, shapely.envelope(region)))
    lo, hi = np.array(region.bounds[:2]), np.array(region.bounds[2:])
    limit = _MAX_STEP * radius[:, None]
    n = len(xy)
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    for sweep in range(_MAX_SWEEPS):
        if sweep % _REBUILD_EVERY == 0:
            pairs = cKDTree(xy).query_pairs(reach + skin, output_type="ndarray")
            if len(pairs) == 0:
                break
            pi, pj = pairs[:, 0], pairs[:, 1]
        delta = xy[pj] - xy[pi]
        dist = np.hypot(delta[:, 0], delta[:, 1])
        delta[dist == 0] = (1.0, 0.0)
        dist = np.maximum(dist, 1e-9)
        ux, uy = delta[:, 0] / dist, delta[:, 1] / dist
        contact = contact_radius(
            radius[pi], aspect[pi], ux * cos_t[pi] + uy * sin_t[pi], uy * cos_t[pi] - ux * sin_t[pi]
        ) + contact_radius(radius[pj], aspect[pj], ux * cos_t[pj] + uy * sin_t[pj], uy * cos_t[pj] - ux * sin_t[pj])
        close = dist < _TOLERANCE * contact
        if not close.any():
            break
        i, j, delta, dist, contact = pi[close], pj[close], delta[close], dist[close], contact[close]
        push = delta * (0.5 * (_PUSH_MARGIN * contact - dist) / dist)[:, None]
        move = np.empty_like(xy)
        for axis in range(2):
            move[:, axis] = np.bincount(j, push[:, axis], n) - np.bincount(i, push[:, axis], n)
        np.clip(move, -limit, limit, out=move)
        moved = xy + move
        if is_box:
            np.clip(moved, lo, hi, out=moved)
        else:
            outside = ~shapely.contains_xy(region, moved[:, 0], moved[:, 1])
            moved[outside] = xy[outside]
        xy = moved
    return xy
