"""Random fields of the rendered images: smooth Gaussian noise and slow autofluorescence.

Long correlation lengths are filtered on a coarse grid and interpolated back bilinearly,
axis by axis, the second axis in one compiled loop (the tests hold them to the plain formulas).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from STpuppeteer.stages.image_blur import gaussian_blur

__all__ = ["UPSAMPLE_BAND_PIXELS", "linear_knots", "low_frequency_noise", "smooth_noise", "upsample"]

# Smooth noise fields are filtered on a grid this many times finer than σ, then interpolated.
_COARSE_PER_SIGMA = 2.0
#: Pixels per row band of the image's finishing pass (its normals drawn a band at a time).
UPSAMPLE_BAND_PIXELS = 1 << 16


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Gaussian random field of unit variance and correlation length ``sigma_px``.

    For a long correlation length the white noise is drawn and filtered on a grid
    ``sigma_px / _COARSE_PER_SIGMA`` pixels apart and interpolated back: the filter's cost
    grows with σ² per pixel, the interpolation's does not, and the field is just as smooth.
    """
    step = int(sigma_px // _COARSE_PER_SIGMA)
    if step < 2:
        field = gaussian_blur(rng.standard_normal(shape, dtype=np.float32), sigma_px)
    else:
        coarse_shape = tuple(math.ceil(n / step) + 2 for n in shape)
        coarse = gaussian_blur(rng.standard_normal(coarse_shape, dtype=np.float32), sigma_px / step)
        field = upsample(coarse, shape, step)
    field /= max(_std(field), 1e-12)
    return field


def _std(field: np.ndarray) -> float:
    """Standard deviation of a smooth field from every 4th pixel each way (a 16th of the work)."""
    return float(field[::4, ::4].std(dtype=np.float64))


def linear_knots(n: int, n_coarse: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Left knot and weight of the right knot of linear interpolation, knots ``step`` pixels apart."""
    t = (np.arange(n) + 0.5) / step
    i0 = np.minimum(np.floor(t).astype(np.int64), n_coarse - 2)
    return i0, (t - i0).astype(np.float32)


def upsample(coarse: np.ndarray, shape: tuple[int, int], step: float) -> np.ndarray:
    """Bilinear interpolation of knots ``step`` pixels apart to ``shape``, one axis after the other.

    Each pixel reads two knots per axis, so this is a few gathers per pixel (a dense weight
    matrix product would cost the number of knots per pixel); the column pass is one compiled loop.
    """
    r0, rf = linear_knots(shape[0], coarse.shape[0], step)
    c0, cf = linear_knots(shape[1], coarse.shape[1], step)
    rows = coarse[r0] * (1 - rf)[:, None]
    rows += coarse[r0 + 1] * rf[:, None]
    out = np.empty(shape, dtype=np.float32)
    _columns(rows, c0, 1 - cf, cf, out)
    return out


@numba.njit(cache=True, nogil=True)
def _columns(
    rows: np.ndarray, c0: np.ndarray, left: np.ndarray, right: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    # out = rows[:, c0] · left + rows[:, c0 + 1] · right, in float32 in that order (numpy's form,
    # the same bits), one row at a time: two knots read per pixel and no full-size temporaries.
    n_rows, n_cols = out.shape
    for i in range(n_rows):
        knots = rows[i]
        target = out[i]
        for j in range(n_cols):
            k = c0[j]
            target[j] = knots[k] * left[j] + knots[k + 1] * right[j]


def low_frequency_noise(rng: np.random.Generator, shape: tuple[int, int], scale_px: float) -> np.ndarray:
    """Unit-variance field varying over ``scale_px`` pixels: coarse knots, bilinearly interpolated."""
    coarse_shape = tuple(math.ceil(n / scale_px) + 2 for n in shape)
    coarse = rng.standard_normal(coarse_shape).astype(np.float32)
    field = upsample(coarse, shape, scale_px)
    field -= np.float32(field[::4, ::4].mean(dtype=np.float64))
    field /= max(_std(field), 1e-12)
    return field
