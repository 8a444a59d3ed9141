"""The compiled Gaussian blur is scipy's ``gaussian_filter`` (reflected edges) within float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from STpuppeteer.stages.image_blur import gaussian_blur, gaussian_weights


@pytest.mark.parametrize("shape", [(1, 1), (2, 9), (9, 2), (5, 5), (37, 64), (128, 93)])
@pytest.mark.parametrize("sigma", [0.4, 1.647, 2.35, 7.0])
def test_matches_scipy_gaussian_filter(shape: tuple[int, int], sigma: float) -> None:
    # Images narrower than the kernel (radius up to 28 here) exercise the repeated reflection.
    image = np.random.default_rng(sum(shape)).gamma(2.0, 500.0, size=shape).astype(np.float32)
    expected = ndimage.gaussian_filter(image.astype(np.float64), sigma)
    got = gaussian_blur(image, sigma)
    assert got.dtype == np.float32
    assert got.shape == image.shape
    # float32 sums of at most 57 terms of values up to ~1e4: a few float32 ulps of the largest.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * float(image.max()))


@pytest.mark.parametrize("truncate", [2.0, 3.0, 4.0])
def test_truncate_and_weights_as_scipy(truncate: float) -> None:
    image = np.zeros((31, 31), np.float32)
    image[15, 15] = 1.0
    expected = ndimage.gaussian_filter(image.astype(np.float64), 2.0, truncate=truncate)
    np.testing.assert_allclose(gaussian_blur(image, 2.0, truncate=truncate), expected, atol=1e-7)
    weights = gaussian_weights(2.0, truncate=truncate)
    assert len(weights) == 2 * int(truncate * 2.0 + 0.5) + 1
    np.testing.assert_allclose(weights.sum(), 1.0)


def test_empty_and_non_contiguous_inputs() -> None:
    assert gaussian_blur(np.zeros((0, 4), np.float32), 1.0).shape == (0, 4)
    image = np.random.default_rng(0).random((40, 60)).astype(np.float32)
    view = image[::-1, ::2]
    np.testing.assert_allclose(gaussian_blur(view, 1.5), ndimage.gaussian_filter(view.astype(np.float64), 1.5),
                               atol=1e-6)


@pytest.mark.parametrize(("image", "sigma", "match"), [
    (np.zeros((3, 3, 3), np.float32), 1.0, "2-D image; got 3 dimensions"),
    (np.zeros((3, 3), np.float32), 0.0, "sigma_px must be > 0; got 0.0"),
    (np.zeros((3, 3), np.float32), float("nan"), "sigma_px must be > 0; got nan"),
])
def test_bad_input_is_refused(image: np.ndarray, sigma: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gaussian_blur(image, sigma)
