"""The fast paths of image rendering keep the fields' statistics.

Smooth noise with a long correlation length is filtered on a coarse grid and interpolated
back; the autofluorescence field is interpolated axis by axis instead of by dense weight
matrices. Speed itself is measured by the writers' benchmarks, not here.
"""

from __future__ import annotations

import numpy as np
import pytest

from STpuppeteer.stages.image_noise import linear_knots, smooth_noise, upsample


def _dense_bilinear(coarse: np.ndarray, shape: tuple[int, int], step: float) -> np.ndarray:
    """Bilinear interpolation as two dense weight-matrix products (the plain formula)."""
    mats = []
    for n, n_coarse in zip(shape, coarse.shape, strict=True):
        i0, frac = linear_knots(n, n_coarse, step)
        w = np.zeros((n, n_coarse), dtype=np.float32)
        w[np.arange(n), i0] = 1 - frac
        w[np.arange(n), i0 + 1] = frac
        mats.append(w)
    return (mats[0] @ coarse) @ mats[1].T


@pytest.mark.parametrize("step", [2.0, 7.5, 40.0])
def test_upsample_equals_dense_bilinear(step: float) -> None:
    shape = (123, 301)
    coarse_shape = tuple(int(np.ceil(n / step)) + 2 for n in shape)
    coarse = np.random.default_rng(0).standard_normal(coarse_shape).astype(np.float32)
    np.testing.assert_allclose(upsample(coarse, shape, step), _dense_bilinear(coarse, shape, step),
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("sigma", [1.5, 8.3])
def test_smooth_noise_unit_variance_and_gaussian_correlation(sigma: float) -> None:
    # Gaussian-filtered white noise has correlation exp(-d²/4σ²) at lag d. About 1200²/(4πσ²)
    # independent patches (≥ 1,600) give the correlation a standard error below 0.01 at
    # σ = 8.3; the coarse grid widens the kernel by ~2 %, well inside 0.04.
    field = smooth_noise(np.random.default_rng(1), (1200, 1200), sigma)
    lag = round(sigma)
    r = np.corrcoef(field[:, :-lag].ravel(), field[:, lag:].ravel())[0, 1]
    assert abs(r - np.exp(-lag**2 / (4 * sigma**2))) < 0.04
    assert abs(float(field.std()) - 1.0) < 0.03
    assert field.dtype == np.float32
