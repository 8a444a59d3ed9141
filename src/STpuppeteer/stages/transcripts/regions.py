"""Uniform points in a region of each cell by rejection, one compiled loop a round.

A region (the cytoplasm, the perinuclear band, the cell edge, the distal part: see
:mod:`~STpuppeteer.stages.transcripts.localisation`) is sampled by drawing uniform points of the
cell until one falls in it. The rounds must draw as the vectorised rounds did (three uniforms a
point still to place, ``rng.random((3, m))``, in the order the points wait), so each round stays
one draw in Python; what a round does with its uniforms (the fan point, the region test, keeping
the points that missed in order) is one numba loop here instead of some twenty numpy passes over
ever smaller arrays. The operations are those of the vectorised code, in the same order (and
``hypot`` and ``atan2`` the same libm's), so the points are the same bits.

Only cells and nuclei star-shaped about their centre are sampled here (the callers check); the
others need shapely and take the vectorised path.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np

from STpuppeteer.geometry.star_kernels import star_contains_point
from STpuppeteer.geometry.star_sampling import fan_point

if TYPE_CHECKING:
    from STpuppeteer.geometry.star import StarPolygons
    from STpuppeteer.geometry.star_kernels import StarArrays

__all__ = ["CELL_EDGE_TEST", "CYTOPLASM_TEST", "DISTAL_TEST", "PERINUCLEAR_TEST", "reject_into_region"]

#: What a point must pass (the regions of the patterns; ``parameter`` is the pattern's knob).
#: Outside the nucleus.
CYTOPLASM_TEST = 0
#: Outside the nucleus, and moved ``parameter`` µm towards the centre it is inside it.
PERINUCLEAR_TEST = 1
#: Moved ``parameter`` µm away from the centre it is outside the cell.
CELL_EDGE_TEST = 2
#: Scaled by ``parameter`` (1 / distal fraction) about the centre it is outside the cell.
DISTAL_TEST = 3


def reject_into_region(
    test: int,
    parameter: float,
    cells: StarPolygons,
    nuclei: StarPolygons,
    rows: np.ndarray,
    todo: np.ndarray,
    rng: np.random.Generator,
    *,
    x: np.ndarray,
    y: np.ndarray,
    max_rounds: int,
) -> np.ndarray:
    """Draw point ``i`` (of each ``i`` in ``todo``) uniform in cell ``rows[i]`` until it passes ``test``.

    Each round draws ``rng.random((3, m))`` for the ``m`` points still waiting (in ``todo``'s
    order), as :meth:`~STpuppeteer.geometry.star.StarPolygons.sample` would; a point that passes
    is written to ``x[i]``, ``y[i]``.

    Parameters
    ----------
    test, parameter
        The region (``*_TEST``) and its knob.
    cells, nuclei
        Fans of the cells and nuclei; every row in ``rows[todo]`` star-shaped in both.
    rows
        Cell row of every point.
    todo
        The points to place (indices into ``rows``, ``x`` and ``y``).
    rng
        The generator of the rounds.
    x, y
        Where the placed points go.
    max_rounds
        Rounds at most.

    Returns
    -------
    The points still not placed after ``max_rounds`` rounds, in order.
    """
    waiting = np.array(todo, dtype=np.int64)
    m = len(waiting)
    if m == 0:
        return waiting
    fan = cells.fan_guide
    cell_arrays, nucleus_arrays = cells.kernel_arrays, nuclei.kernel_arrays
    rows = np.asarray(rows, dtype=np.intp)
    for _ in range(max_rounds):
        if m == 0:
            break
        u = rng.random((3, m))
        m = _round(test, float(parameter), rows, waiting, m, u, fan.rows, fan.start, fan.guide, cells.cum, cells.rvx,
                   cells.rvy, cell_arrays, nucleus_arrays, x, y)
    return waiting[:m]


@numba.njit(inline="always", cache=True, nogil=True, _nrt=False)
def _passes(test: int, parameter: float, cells: StarArrays, nuclei: StarArrays, r: int, px: float,
            py: float) -> bool:
    # localisation._in_region for one point; the centre is the cells' (the nuclei share it).
    cx, cy = cells.cx[r], cells.cy[r]
    dx, dy = px - cx, py - cy
    if test == DISTAL_TEST:
        return not star_contains_point(cells, r, cx + parameter * dx, cy + parameter * dy)
    dist = math.hypot(dx, dy)
    # np.maximum(dist, 1e-12): NaN stays NaN.
    safe = dist if (dist > 1e-12 or dist != dist) else 1e-12
    if test == CELL_EDGE_TEST:
        scale = (dist + parameter) / safe
        return not star_contains_point(cells, r, cx + scale * dx, cy + scale * dy)
    outside = not star_contains_point(nuclei, r, px, py)
    if test == CYTOPLASM_TEST or not outside:
        return outside
    shrunk = dist - parameter
    scale = (shrunk if (shrunk > 0.0 or shrunk != shrunk) else 0.0) / safe
    return star_contains_point(nuclei, r, cx + scale * dx, cy + scale * dy)


@numba.njit(cache=True, nogil=True, _nrt=False)
def _round(
    test: int,
    parameter: float,
    rows: np.ndarray,
    waiting: np.ndarray,
    m: int,
    u: np.ndarray,
    guide_rows: np.ndarray,
    guide_start: np.ndarray,
    guide: np.ndarray,
    cum: np.ndarray,
    rvx: np.ndarray,
    rvy: np.ndarray,
    cells: StarArrays,
    nuclei: StarArrays,
    x: np.ndarray,
    y: np.ndarray,
) -> int:
    # One round: point k of the m waiting gets the uniforms u[:, k]; those that pass are written,
    # the others move up in waiting (in order). Returns how many still wait.
    kept = 0
    for k in range(m):
        i = waiting[k]
        r = rows[i]
        px, py = fan_point(r, u[0, k], u[1, k], u[2, k], guide_rows, guide_start, guide, cum, rvx, rvy)
        if _passes(test, parameter, cells, nuclei, r, px, py):
            x[i], y[i] = px, py
        else:
            waiting[kept] = i
            kept += 1
    return kept
