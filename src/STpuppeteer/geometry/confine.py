"""Apply moves to points while keeping them inside a region.

Used by the relaxations that move cell centres (:mod:`STpuppeteer.stages.cell_room`,
:mod:`STpuppeteer.stages.packing`). In a rectangular region a move that would leave it is
reflected off the wall it crosses; clipping instead would stack every centre pushed out near a
corner on the corner itself, and two coincident centres have no power cell between them. In any
other region a move that would leave it is not made.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["confined_moves"]


def confined_moves(xy: np.ndarray, move: np.ndarray, region: shapely.Polygon, *, is_box: bool) -> np.ndarray:
    """``xy + move``, kept inside ``region``.

    Parameters
    ----------
    xy
        ``(n, 2)`` points inside ``region``.
    move
        ``(n, 2)`` moves; each must be shorter than the box's sides when ``is_box``.
    region
        The region.
    is_box
        Whether ``region`` equals its bounding box (then moves reflect off its walls).

    Returns
    -------
    ``(n, 2)`` moved points, inside ``region`` (on its boundary at most).

    Examples
    --------
    >>> box = shapely.box(0.0, 0.0, 10.0, 10.0)
    >>> confined_moves(np.array([[9.0, 5.0]]), np.array([[3.0, 0.0]]), box, is_box=True)
    array([[8., 5.]])
    """
    moved = xy + move
    if is_box:
        lo = np.asarray(region.bounds[:2])
        hi = np.asarray(region.bounds[2:])
        moved = lo + np.abs(moved - lo)
        moved = hi - np.abs(hi - moved)
        # A move longer than the box would bounce twice; the clip keeps the contract regardless.
        return np.clip(moved, lo, hi)
    outside = ~shapely.contains_xy(region, moved[:, 0], moved[:, 1])
    moved[outside] = xy[outside]
    return moved
