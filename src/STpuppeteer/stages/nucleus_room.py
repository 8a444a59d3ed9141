"""Stage 2c″: the room a nucleus has in a stretched cell (confluent model with elongated types).

In round cells a nucleus is fitted to the disc about its centre that lies inside the cell. A
stretched cell (:mod:`.cell_stretch`) is long and narrow, so that disc is only as wide as the
cell: nuclei would shrink and could hardly move along the cell. Here the disc is replaced by an
ellipse of the cell's own local shape, E = {q : |M q| ≤ s}, with M the stretch map's derivative
at the centre (it takes the cell to a round one) and s the largest value that keeps E inside the
cell polygon: the distance from the centre to the polygon's edges, measured after mapping them
by M. E is convex, so a nucleus whose corners lie in E lies in E, hence in its cell, and nuclei
never overlap because cells do not. For a round cell M is a multiple of a rotation and E is the
disc of before.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

__all__ = ["ellipse_room", "fit_in_ellipse", "room_along"]


def ellipse_room(cells: np.ndarray, centres: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Largest s such that the ellipse {c + q : |M q| ≤ s} lies in each polygon.

    Parameters
    ----------
    cells
        ``(n,)`` polygons, each holding its centre.
    centres
        ``(n, 2)`` the centres c.
    shape
        ``(n, 2, 2)`` the matrices M (invertible).

    Returns
    -------
    ``(n,)`` s: the distance from the origin to the polygon's edges mapped by M.

    Examples
    --------
    A 6 × 2 box holds the ellipse of semi-axes 3 and 1:

    >>> m = np.array([[[1 / 3, 0.0], [0.0, 1.0]]])
    >>> ellipse_room(np.array([shapely.box(-3, -1, 3, 1)]), np.zeros((1, 2)), m).round(9).tolist()
    [1.0]
    """
    n = len(cells)
    rings, ring_cell = shapely.get_rings(cells, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    index = ring_cell[ring]
    q = np.einsum("nij,nj->ni", shape[index], xy - centres[index])
    # Rings are closed: each point and the next of the same ring are an edge.
    start = np.flatnonzero(ring[:-1] == ring[1:])
    a, b = q[start], q[start + 1]
    ab = b - a
    length2 = np.einsum("ij,ij->i", ab, ab)
    t = np.clip(-np.einsum("ij,ij->i", a, ab) / np.maximum(length2, 1e-300), 0.0, 1.0)
    distance = np.hypot(*(a + t[:, None] * ab).T)
    out = np.full(n, np.inf)
    np.minimum.at(out, index[start], distance)
    return out


def _corners(radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_vertices = radii.shape[1]
    phi = np.linspace(0.0, 2.0 * math.pi, n_vertices, endpoint=False)
    return radii * np.cos(phi), radii * np.sin(phi)


def fit_in_ellipse(radii: np.ndarray, shape: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Shrink (uniformly) each star whose corners leave the ellipse {q : |M q| ≤ s}.

    Parameters
    ----------
    radii
        ``(n, n_vertices)`` star radii at angles ``2π v / n_vertices``.
    shape
        ``(n, 2, 2)`` the matrices M.
    scale
        ``(n,)`` the ellipses' s.

    Returns
    -------
    New radii; rows already inside are unchanged.
    """
    qx, qy = _corners(radii)
    mx = shape[:, 0, 0, None] * qx + shape[:, 0, 1, None] * qy
    my = shape[:, 1, 0, None] * qx + shape[:, 1, 1, None] * qy
    factor = np.minimum(1.0, scale / np.hypot(mx, my).max(axis=1))
    return radii * factor[:, None]


def room_along(radii: np.ndarray, shape: np.ndarray, scale: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """How far each star can move along its axis, either way, and keep its corners in its ellipse.

    Parameters
    ----------
    radii
        ``(n, n_vertices)`` star radii (inside their ellipses).
    shape
        ``(n, 2, 2)`` the matrices M.
    scale
        ``(n,)`` the ellipses' s.
    angle
        ``(n,)`` the direction of the move (radians).

    Returns
    -------
    ``(n,)`` the largest t ≥ 0 such that the star moved by ±t (cos, sin)(angle) stays in the ellipse.
    """
    qx, qy = _corners(radii)
    mx = shape[:, 0, 0, None] * qx + shape[:, 0, 1, None] * qy
    my = shape[:, 1, 0, None] * qx + shape[:, 1, 1, None] * qy
    # M d, the move's direction in the round frame; |M q + t M d| = s solved for t of either sign.
    dx = shape[:, 0, 0] * np.cos(angle) + shape[:, 0, 1] * np.sin(angle)
    dy = shape[:, 1, 0] * np.cos(angle) + shape[:, 1, 1] * np.sin(angle)
    dd = (dx * dx + dy * dy)[:, None]
    qd = mx * dx[:, None] + my * dy[:, None]
    root = np.sqrt(np.maximum(qd * qd - dd * (mx * mx + my * my - scale[:, None] ** 2), 0.0))
    forward = (-qd + root) / dd
    backward = (qd + root) / dd
    return np.maximum(np.minimum(forward.min(axis=1), backward.min(axis=1)), 0.0)
