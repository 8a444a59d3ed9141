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

import numba
import numpy as np
import shapely
from scipy.spatial import cKDTree

from STpuppeteer.geometry.confine import confined_moves

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
    overlap. Moves are kept inside the region by :func:`~STpuppeteer.geometry.confine.confined_moves`.

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
    limit = _MAX_STEP * radius[:, None]
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    for sweep in range(_MAX_SWEEPS):
        if sweep % _REBUILD_EVERY == 0:
            pairs = cKDTree(xy).query_pairs(reach + skin, output_type="ndarray")
            if len(pairs) == 0:
                break
            pi, pj = pairs[:, 0], pairs[:, 1]
        move = np.zeros_like(xy)
        if _sweep_moves(xy, pi, pj, radius, aspect, cos_t, sin_t, move) == 0:
            break
        np.clip(move, -limit, limit, out=move)
        xy = confined_moves(xy, move, region, is_box=is_box)
    return xy


@numba.njit(cache=True, nogil=True)
def _contact_radius(radius: float, aspect: float, cos_phi: float, sin_phi: float) -> float:
    # contact_radius for one ellipse, its operations in the same order (the same bits).
    return radius / math.sqrt(cos_phi * cos_phi / aspect + aspect * sin_phi * sin_phi)


@numba.njit(cache=True, nogil=True)
def _sweep_moves(
    xy: np.ndarray,
    pi: np.ndarray,
    pj: np.ndarray,
    radius: np.ndarray,
    aspect: np.ndarray,
    cos_t: np.ndarray,
    sin_t: np.ndarray,
    move: np.ndarray,
) -> int:
    """One sweep's moves (into the zeroed ``move``) from the listed pairs; returns how many pairs overlap.

    The vectorised sweep took a dozen whole-array passes over every listed pair; this is one
    loop with the same operations in the same order, and the pushes summed in pair order into a
    gain and a loss per centre as ``np.bincount`` sums them, so the moves are bit for bit the same.
    """
    n = len(xy)
    gain = np.zeros((n, 2))
    loss = np.zeros((n, 2))
    n_close = 0
    for k in range(len(pi)):
        i, j = pi[k], pj[k]
        dx = xy[j, 0] - xy[i, 0]
        dy = xy[j, 1] - xy[i, 1]
        dist = math.hypot(dx, dy)
        if dist == 0:
            # Coincident points get an arbitrary but deterministic direction.
            dx, dy = 1.0, 0.0
        dist = max(dist, 1e-9)
        ux, uy = dx / dist, dy / dist
        contact = _contact_radius(
            radius[i], aspect[i], ux * cos_t[i] + uy * sin_t[i], uy * cos_t[i] - ux * sin_t[i]
        ) + _contact_radius(radius[j], aspect[j], ux * cos_t[j] + uy * sin_t[j], uy * cos_t[j] - ux * sin_t[j])
        if not dist < _TOLERANCE * contact:
            continue
        n_close += 1
        scale = 0.5 * (_PUSH_MARGIN * contact - dist) / dist
        px, py = dx * scale, dy * scale
        gain[j, 0] += px
        gain[j, 1] += py
        loss[i, 0] += px
        loss[i, 1] += py
    for c in range(n):
        move[c, 0] = gain[c, 0] - loss[c, 0]
        move[c, 1] = gain[c, 1] - loss[c, 1]
    return n_close
