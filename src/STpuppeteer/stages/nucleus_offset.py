"""Stage 2c′: nuclei off-centre in elongated cells (confluent model).

In spindle-shaped and columnar cells the nucleus seldom sits at the cell's centre: it lies
towards one end along the long axis. Each elongated cell's nucleus is moved along the long
axis of its (already built) cell polygon, towards a random end, by
``min(offset × U(0.5, 1.5), 1) × room``, where ``room = limit − r_max`` is what the disc of
radius ``limit`` about the site (guaranteed inside the cell) leaves beyond the nucleus'
largest radius ``r_max``. So the moved nucleus stays in that disc, hence in its own cell, and
nuclei never overlap because cells do not. Round cells (length over width 1) keep their
nucleus at the site.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["long_axis_angle", "nucleus_shifts"]

# The factor of a cell's shift around ``offset``: uniform over offset × [0.5, 1.5], so shifts vary
# from cell to cell and the mean is ``offset`` × room while offset × 1.5 ≤ 1.
_SPREAD = (0.5, 1.5)


def long_axis_angle(polygons: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Angle (radians) of each polygon's long principal axis, from the area moments of its exterior.

    Parameters
    ----------
    polygons
        ``(n,)`` shapely polygons.
    origin
        ``(n, 2)`` a point near each polygon (its coordinates are taken relative to it, which
        keeps the moments' rounding small).

    Returns
    -------
    ``(n,)`` angles in (−π/2, π/2].
    """
    n = len(polygons)
    if n == 0:
        return np.empty(0)
    xy, index = shapely.get_coordinates(shapely.get_exterior_ring(polygons), return_index=True)
    xy = xy - origin[index]
    # Closed rings: each vertex and the next of the same ring form an edge (the last of a ring is skipped).
    edge = np.flatnonzero(index[:-1] == index[1:])
    x0, y0 = xy[edge, 0], xy[edge, 1]
    x1, y1 = xy[edge + 1, 0], xy[edge + 1, 1]
    which = index[edge]
    cross = x0 * y1 - x1 * y0
    area = np.bincount(which, cross, n) / 2.0
    cx = np.bincount(which, (x0 + x1) * cross, n) / (6.0 * area)
    cy = np.bincount(which, (y0 + y1) * cross, n) / (6.0 * area)
    sxx = np.bincount(which, (x0 * x0 + x0 * x1 + x1 * x1) * cross, n) / 12.0 - area * cx * cx
    syy = np.bincount(which, (y0 * y0 + y0 * y1 + y1 * y1) * cross, n) / 12.0 - area * cy * cy
    sxy = np.bincount(which, (x0 * y1 + 2 * x0 * y0 + 2 * x1 * y1 + x1 * y0) * cross, n) / 24.0 - area * cx * cy
    return 0.5 * np.arctan2(2.0 * sxy, sxx - syy)


def nucleus_shifts(
    cells: np.ndarray,
    sites: np.ndarray,
    rng: np.random.Generator,
    *,
    room: np.ndarray,
    elongated: np.ndarray,
    offset: float,
) -> np.ndarray:
    """Shift of each nucleus from its site.

    Parameters
    ----------
    cells
        ``(n,)`` the cell polygons.
    sites
        ``(n, 2)`` the sites (where the nuclei are centred before the shift), µm.
    rng
        The block's stream; it draws two numbers per cell whatever ``offset`` and ``elongated``
        are, so a cell's shift depends only on its block and its place in it.
    room
        ``(n,)`` how far each nucleus may move and stay in its cell, µm (≥ 0).
    elongated
        ``(n,)`` which cells are elongated (only they move).
    offset
        Mean shift as a fraction of the room, in [0, 1].

    Returns
    -------
    ``(n, 2)`` shifts, µm; zero for round cells and when ``offset`` is 0.
    """
    n = len(sites)
    factor = rng.uniform(*_SPREAD, n)
    end = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    shift = np.zeros((n, 2))
    move = elongated & (room > 0) if offset > 0 else np.zeros(n, dtype=bool)
    if not move.any():
        return shift
    angle = long_axis_angle(cells[move], sites[move])
    length = end[move] * np.minimum(offset * factor[move], 1.0) * room[move]
    shift[move, 0] = length * np.cos(angle)
    shift[move, 1] = length * np.sin(angle)
    return shift
