"""Stage 2a″: give each part of the tissue the room its cells need (a density-equalising flow).

Blue-noise centres are evenly spread, but a domain of large cells needs fewer centres per mm²
than one of small cells. On a grid of a few cell spacings, the room the centres of a grid
square need (the sum of their target areas) is compared with the room they have (the square's
area); the excess q − 1 drives a potential flow v = ∇ψ with Δψ = q − 1 (solved with a cosine
transform, no flow through the bounding box), and the centres move along it. A few such
steps, each recomputing q from the moved centres, level the excess (the linearised form of a
diffusion cartogram, Gastner & Newman 2004). The flow is smooth, so the blue-noise order
within a domain is kept; :mod:`.packing` then fixes what is left at the scale of single cells.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from scipy import fft, ndimage

from STpuppeteer.geometry.confine import confined_moves

__all__ = ["make_room"]

_STEPS = 8
# Grid square side, in typical cell spacings: fine enough to follow a domain's edge, coarse
# enough that a square holds several centres.
_SQUARES_PER_SPACING = 1.0 / 2.5
_MAX_GRID = 2_000_000


def _flow(excess: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    # Δψ = excess with zero normal derivative at the box edge: a type-II DCT diagonalises it.
    ny, nx = excess.shape
    coef = fft.dctn(excess - excess.mean(), type=2, norm="ortho")
    ky = 2.0 * (np.cos(np.pi * np.arange(ny) / ny) - 1.0)
    kx = 2.0 * (np.cos(np.pi * np.arange(nx) / nx) - 1.0)
    denom = ky[:, None] + kx[None, :]
    denom[0, 0] = 1.0
    coef /= denom
    coef[0, 0] = 0.0
    psi = fft.idctn(coef, type=2, norm="ortho") * step * step
    gy, gx = np.gradient(psi, step)
    return gx, gy


def make_room(xy: np.ndarray, area: np.ndarray, region: shapely.Polygon) -> np.ndarray:
    """Move centres so that each neighbourhood's area matches its cells' target areas.

    Parameters
    ----------
    xy
        ``(n, 2)`` centres inside ``region``.
    area
        ``(n,)`` target cell areas, µm² (summing to about the region's area).
    region
        The tissue polygon.

    Returns
    -------
    ``(n, 2)`` moved centres, kept inside the region by
    :func:`~STpuppeteer.geometry.confine.confined_moves`.
    """
    xy = np.array(xy, dtype=float)
    n = len(xy)
    if n < 8 or np.ptp(area) == 0:
        return xy
    x0, y0, x1, y1 = region.bounds
    spacing = math.sqrt(region.area / n)
    step = max(spacing / _SQUARES_PER_SPACING, math.sqrt((x1 - x0) * (y1 - y0) / _MAX_GRID))
    nx, ny = max(2, math.ceil((x1 - x0) / step)), max(2, math.ceil((y1 - y0) / step))
    is_box = bool(shapely.equals(region, shapely.envelope(region)))
    # The tissue's share of each square (holes and the outside need no room and get none).
    gx0, gy0 = np.meshgrid(x0 + step * (np.arange(nx) + 0.5), y0 + step * (np.arange(ny) + 0.5))
    if is_box:
        inside = np.ones((ny, nx))
    else:
        sub = 4
        offs = (np.arange(sub) + 0.5) / sub - 0.5
        inside = np.zeros((ny, nx))
        for ox in offs:
            for oy in offs:
                inside += shapely.contains_xy(region, gx0 + ox * step, gy0 + oy * step)
        inside /= sub * sub
    room = np.maximum(inside * step * step, 1e-9)
    for _ in range(_STEPS):
        col = np.clip(((xy[:, 0] - x0) / step).astype(np.int64), 0, nx - 1)
        row = np.clip(((xy[:, 1] - y0) / step).astype(np.int64), 0, ny - 1)
        need = np.bincount(row * nx + col, area, nx * ny).reshape(ny, nx)
        # A light smoothing keeps the flow from chasing the noise of single squares.
        excess = ndimage.gaussian_filter(np.where(inside > 0.05, need / room - 1.0, 0.0), 1.0)
        vx, vy = _flow(excess, step)
        coords = [(xy[:, 1] - y0) / step - 0.5, (xy[:, 0] - x0) / step - 0.5]
        move = np.column_stack(
            [
                ndimage.map_coordinates(vx, coords, order=1, mode="nearest"),
                ndimage.map_coordinates(vy, coords, order=1, mode="nearest"),
            ]
        )
        np.clip(move, -2.0 * spacing, 2.0 * spacing, out=move)
        xy = confined_moves(xy, move, region, is_box=is_box)
    return xy
