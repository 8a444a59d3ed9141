"""Smooth random fields at points, and labels from scores with exact counts.

The two tools the spatial patterns and the named architectures share: :func:`gaussian_fields`
(independent smooth Gaussian random fields of a given correlation length, evaluated at cell
centres) and :func:`argmax_with_counts` (each cell takes its best-scoring label, with per-label
offsets tuned so that every label gets exactly its quota of cells).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

__all__ = ["argmax_with_counts", "gaussian_fields"]

_MAX_FIELD_GRID = 4_000_000
_OFFSET_SWEEPS = 40


def gaussian_fields(
    xy: np.ndarray,
    bounds: tuple[float, float, float, float],
    rng: np.random.Generator,
    *,
    length_um: float,
    n_fields: int,
) -> np.ndarray:
    """Independent smooth Gaussian random fields evaluated at points.

    White noise on a grid filtered by a Gaussian of s.d. ``length_um / √2`` has the
    squared-exponential covariance ``exp(-d² / (2 length²))``; it is interpolated
    bilinearly at the points and scaled to unit variance.

    Parameters
    ----------
    xy
        ``(n, 2)`` points, µm.
    bounds
        ``(x0, y0, x1, y1)`` of the region the points lie in.
    rng
        Source of randomness.
    length_um
        Correlation length, µm.
    n_fields
        Number of independent fields.

    Returns
    -------
    ``(n, n_fields)`` array, each column a field with mean ≈ 0 and s.d. ≈ 1.
    """
    x0, y0, x1, y1 = bounds
    step = length_um / 3.0
    if (x1 - x0) * (y1 - y0) / step**2 > _MAX_FIELD_GRID:
        step = math.sqrt((x1 - x0) * (y1 - y0) / _MAX_FIELD_GRID)
    sigma = length_um / math.sqrt(2.0) / step
    pad = math.ceil(3.0 * sigma) + 1
    nx = math.ceil((x1 - x0) / step) + 1 + 2 * pad
    ny = math.ceil((y1 - y0) / step) + 1 + 2 * pad
    rows = (xy[:, 1] - y0) / step + pad
    cols = (xy[:, 0] - x0) / step + pad
    out = np.empty((len(xy), n_fields))
    for k in range(n_fields):
        grid = ndimage.gaussian_filter(rng.standard_normal((ny, nx)), sigma, mode="wrap")
        grid /= grid.std()
        out[:, k] = ndimage.map_coordinates(grid, [rows, cols], order=1, mode="nearest")
    return out


def argmax_with_counts(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Label of each row: the argmax of its scores plus per-label offsets that make the counts exact.

    The offsets are tuned by dual ascent until the label counts match; a final exact repair
    moves the few lowest-margin rows of over-full labels.

    Parameters
    ----------
    scores
        ``(m, k)`` score of each row for each label.
    counts
        ``(k,)`` how many rows each label must get (summing to ``m``).

    Returns
    -------
    ``(m,)`` int64 labels; label ``t`` occurs exactly ``counts[t]`` times.

    Examples
    --------
    >>> argmax_with_counts(np.array([[1.0, 0.0], [0.9, 0.0], [0.0, 1.0]]), np.array([1, 2])).tolist()
    [0, 1, 1]
    """
    m, k = scores.shape
    offset = np.zeros(k)
    log_target = np.log(counts + 0.5)
    for _ in range(_OFFSET_SWEEPS):
        label = np.argmax(scores + offset, axis=1)
        got = np.bincount(label, minlength=k)
        if np.array_equal(got, counts):
            return label
        offset += 0.5 * (log_target - np.log(got + 0.5))
    adjusted = scores + offset
    label = np.argmax(adjusted, axis=1)
    got = np.bincount(label, minlength=k)
    pool = []
    for t in np.flatnonzero(got > counts):
        members = np.flatnonzero(label == t)
        others = adjusted[members].copy()
        others[:, t] = -np.inf
        margin = adjusted[members, t] - others.max(axis=1)
        pool.append(members[np.argsort(margin, kind="stable")[: got[t] - counts[t]]])
    free = np.concatenate(pool) if pool else np.empty(0, dtype=np.int64)
    for t in np.flatnonzero(got < counts):
        take = np.argsort(-adjusted[free, t], kind="stable")[: counts[t] - got[t]]
        label[free[take]] = t
        free = np.delete(free, take)
    return label
