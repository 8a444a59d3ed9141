"""Stage 2b‴: the stretch that makes elongated confluent cells long, along the orientation field.

A power cell (:mod:`STpuppeteer.geometry.power`) is barely longer than wide whatever the
arrangement of the centres: even centres spread evenly in a plane stretched threefold give
cells of length/width ≈ 1.6, and staggered rows give cells long *across* the rows (measured,
``docs/model_tissue.md``). So cells are built in a stretched plane instead: a smooth map
u = f(x) (:func:`~STpuppeteer.geometry.stretch.solve_stretch_map`) takes each elongated cell's
target ellipse (length/width e along θ) to a disc, the power cells of the mapped centres are
computed there, and their corners are mapped back. Corners shared by neighbouring cells map to
the same point, so the cells still tile the tissue without overlap; as the map is smooth on the
scale of a cell, each cell stays (nearly always exactly) convex around its centre.

The map's Beltrami coefficient at a point is μ = −(e − 1)/(e + 1) · s · e^{2iθ}, where e is the
target elongation of the nearest cell (1 for round types: they stay round), θ the orientation
field, and s = 1 / (1 + (ℓ |∇θ|)²) lowers it where the field turns by a radian within a cell
length ℓ: a cell cannot bend, and near the field's defects (where θ turns fast) spindle-shaped
tissue is disordered too. μ is smoothed over half a cell spacing (sharp type borders would fold
the map's grid) and falls to zero near the grid's edges.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy import fft, ndimage

from STpuppeteer.geometry.stretch import GridMap, solve_stretch_map
from STpuppeteer.stages.cell_sizes import orientation_field

if TYPE_CHECKING:
    from STpuppeteer.stages.cell_sizes import CellTargets

__all__ = ["stretch_map"]

# Grid nodes per typical cell spacing (the map must follow type borders and the field's turns).
_NODES_PER_SPACING = 1.5
_MAX_NODES = 8_000_000
# Nodes beyond the tissue's bounding box on every side: room for μ to fall to zero.
_PAD_NODES = 8
# Gaussian smoothing of μ, in nodes.
_SMOOTH_NODES = 1.0
# The elongation halves where the field turns by this many radians within a cell length.
_TAPER = 1.0
# If the solved map folds a grid square, μ is scaled by this and the map solved again.
_BACKOFF = 0.5
_ATTEMPTS = 4


def _nearest_fill(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    # Each empty node takes the value of the nearest node that holds a centre.
    empty = count == 0
    if not empty.any():
        return values
    index = ndimage.distance_transform_edt(empty, return_distances=False, return_indices=True)
    return values[tuple(index)]


def stretch_map(
    centres: np.ndarray,
    targets: CellTargets,
    region: shapely.Polygon,
    *,
    orientation_rng: np.random.Generator,
    length_um: float,
) -> GridMap | None:
    """The map in whose image the confluent cells are built; ``None`` when no cell is elongated.

    Parameters
    ----------
    centres
        ``(n, 2)`` the cells' centres (after packing).
    targets
        The cells' target areas, elongations and directions.
    region
        The tissue polygon.
    orientation_rng
        A fresh generator of the orientation field's stream (the one ``targets.theta`` came from):
        the field is evaluated again at the grid's nodes.
    length_um
        The orientation field's correlation length.

    Returns
    -------
    The map (a homeomorphism; μ is halved until its grid does not fold, and ``None`` is returned
    if it still folds).
    """
    n = len(centres)
    if n == 0 or not np.any(targets.aspect > 1.0):
        return None
    bx0, by0, bx1, by1 = region.bounds
    spacing = math.sqrt(region.area / n)
    step = max(spacing / _NODES_PER_SPACING, math.sqrt((bx1 - bx0) * (by1 - by0) / _MAX_NODES))
    nx = fft.next_fast_len(math.ceil((bx1 - bx0) / step) + 1 + 2 * _PAD_NODES)
    ny = fft.next_fast_len(math.ceil((by1 - by0) / step) + 1 + 2 * _PAD_NODES)
    x0, y0 = bx0 - _PAD_NODES * step, by0 - _PAD_NODES * step

    # The target elongation of the nearest cell at every node.
    row = np.clip(np.rint((centres[:, 1] - y0) / step).astype(np.int64), 0, ny - 1)
    col = np.clip(np.rint((centres[:, 0] - x0) / step).astype(np.int64), 0, nx - 1)
    count = np.bincount(row * nx + col, minlength=nx * ny).reshape(ny, nx)
    total = np.bincount(row * nx + col, targets.aspect, minlength=nx * ny).reshape(ny, nx)
    aspect = _nearest_fill(total / np.maximum(count, 1), count)

    gx, gy = np.meshgrid(x0 + step * np.arange(nx), y0 + step * np.arange(ny))
    theta = orientation_field(
        np.column_stack([gx.ravel(), gy.ravel()]), region, orientation_rng, length_um=length_um
    ).reshape(ny, nx)
    director = np.exp(2j * theta)
    d_dy, d_dx = np.gradient(director, step)
    turn = 0.5 * np.sqrt(np.abs(d_dx) ** 2 + np.abs(d_dy) ** 2)
    cell_length = 2.0 * np.sqrt(float(np.mean(targets.area)) * aspect / math.pi)
    mu = -(aspect - 1.0) / (aspect + 1.0) / (1.0 + (cell_length * turn / _TAPER) ** 2) * director
    mu = ndimage.gaussian_filter(mu.real, _SMOOTH_NODES) + 1j * ndimage.gaussian_filter(mu.imag, _SMOOTH_NODES)
    # Zero at the grid's edges (which are outside the tissue by _PAD_NODES), one half-way in.
    ramp = _PAD_NODES / 2.0
    wx = np.clip(np.minimum(np.arange(nx), nx - 1 - np.arange(nx)) / ramp, 0.0, 1.0)
    wy = np.clip(np.minimum(np.arange(ny), ny - 1 - np.arange(ny)) / ramp, 0.0, 1.0)
    mu *= wy[:, None] * wx[None, :]
    for _ in range(_ATTEMPTS):
        grid_map = solve_stretch_map(mu, x0=x0, y0=y0, step=step)
        if grid_map.is_homeomorphism():
            return grid_map
        mu *= _BACKOFF
    return None
