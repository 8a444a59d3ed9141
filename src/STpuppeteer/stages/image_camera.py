"""The camera's pass over a rendered stain: expected photons to stored 16-bit counts, in one compiled loop.

Per pixel, in float32 and in this order (the numpy expressions it replaces, so every count is
the same): the expected photons are the autofluorescence field times its scale, plus its level,
plus the blurred signal, floored at 0; the shot and read noise is a standard normal times
``sqrt(expected + read_var)``, added to the expected photons; the sum is divided by the gain
(``photons_per_count``), rounded half to even, clipped to ``[0, 65535]`` and stored as uint16.
The standard normals are drawn by the caller from its numpy generator, so the random stream is
the generator's own.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["camera_counts"]


def camera_counts(
    background: np.ndarray,
    blurred: np.ndarray,
    normals: np.ndarray,
    out: np.ndarray,
    *,
    background_scale: float,
    background_level: float,
    read_variance: float,
    photons_per_count: float,
) -> None:
    """Fill ``out`` (uint16) with the counts of pixels whose expected signal is ``blurred``.

    Parameters
    ----------
    background
        The autofluorescence field (unit variance), float32, the shape of ``out``.
    blurred
        Expected photons of the stain after the optics, float32.
    normals
        One standard normal per pixel, float32.
    out
        uint16 array written in place.
    background_scale, background_level
        Photons of autofluorescence: ``level + scale · field``.
    read_variance
        The camera's read noise, photons².
    photons_per_count
        The gain; 1 stores photon counts.

    Examples
    --------
    >>> out = np.empty((1, 2), np.uint16)
    >>> camera_counts(np.zeros((1, 2), np.float32), np.array([[0.0, 100.0]], np.float32),
    ...               np.zeros((1, 2), np.float32), out, background_scale=0.0, background_level=20.0,
    ...               read_variance=16.0, photons_per_count=4.0)
    >>> out.tolist()
    [[5, 30]]
    """
    _camera(
        background,
        blurred,
        normals,
        out,
        np.float32(background_scale),
        np.float32(background_level),
        np.float32(read_variance),
        np.float32(1.0 / photons_per_count),
    )


@numba.njit(cache=True, nogil=True)
def _camera(
    background: np.ndarray,
    blurred: np.ndarray,
    normals: np.ndarray,
    out: np.ndarray,
    scale: np.float32,
    level: np.float32,
    read_variance: np.float32,
    inverse_gain: np.float32,
) -> None:  # pragma: no cover - compiled
    zero = np.float32(0.0)
    top = np.float32(65535.0)
    n_rows, n_cols = out.shape
    for i in range(n_rows):
        for j in range(n_cols):
            expected = background[i, j] * scale
            expected += level
            expected += blurred[i, j]
            expected = max(expected, zero)
            value = normals[i, j] * np.sqrt(expected + read_variance)
            value += expected
            value *= inverse_gain  # x · 1 is x: gain 1 stores the photons unchanged
            out[i, j] = np.uint16(min(max(np.rint(value), zero), top))
