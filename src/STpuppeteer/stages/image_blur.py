"""The optics' blur of a rendered image: a separable Gaussian in float32, one compiled pass.

:func:`scipy.ndimage.gaussian_filter` filters one axis after the other through a full-size
intermediate and sums in float64. The stains are float32 photon counts (tens to thousands,
then given shot noise of at least the read noise's 4 photons), so float32 sums, whose relative
error is about 1e-7, change nothing a camera could record. Here each output row is made in a
cache-resident buffer: the column pass (the rows around it, weighted), then the row pass over
that buffer. Both inner loops run along contiguous memory and vectorise, and the kernel holds
no GIL, so the writers' threads blur at once. The kernel and the edges are scipy's: weights
``exp(-x²/2σ²)`` for ``|x| ≤ int(truncate·σ + 0.5)``, normalised, and ``mode="reflect"``
(``d c b a | a b c d | d c b a``, repeated for images narrower than the kernel). The tests hold
it to scipy's result within float32 rounding.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["gaussian_blur", "gaussian_weights"]


def gaussian_weights(sigma_px: float, *, truncate: float = 4.0) -> np.ndarray:
    """Normalised weights of the Gaussian kernel, as :func:`scipy.ndimage.gaussian_filter` builds them.

    Parameters
    ----------
    sigma_px
        Standard deviation, pixels (> 0).
    truncate
        The kernel reaches ``int(truncate·σ + 0.5)`` pixels each side.

    Returns
    -------
    Float64 weights, ``2·radius + 1`` of them, summing to 1.

    Examples
    --------
    >>> w = gaussian_weights(1.0)
    >>> len(w), round(float(w.sum()), 12), bool(w[4] == w.max())
    (9, 1.0, True)
    """
    radius = int(truncate * float(sigma_px) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (x / float(sigma_px)) ** 2)
    return weights / weights.sum()


def gaussian_blur(image: np.ndarray, sigma_px: float, *, truncate: float = 4.0) -> np.ndarray:
    """Blur a 2-D image with a Gaussian of ``sigma_px`` pixels (edges reflected), in float32.

    Parameters
    ----------
    image
        The image (any real dtype; read as float32).
    sigma_px
        Standard deviation of the Gaussian, pixels (> 0).
    truncate
        The kernel reaches ``int(truncate·σ + 0.5)`` pixels each side (scipy's default, 4).

    Returns
    -------
    The blurred image, float32, the shape of ``image``.

    Examples
    --------
    >>> image = np.zeros((5, 5), np.float32); image[2, 2] = 1.0
    >>> blurred = gaussian_blur(image, 1.0)
    >>> round(float(blurred.sum()), 5), bool(blurred[2, 2] == blurred.max())
    (1.0, True)
    """
    if image.ndim != 2:
        raise ValueError(f"gaussian_blur takes a 2-D image; got {image.ndim} dimensions")
    if not sigma_px > 0:
        raise ValueError(f"sigma_px must be > 0; got {sigma_px}")
    source = np.ascontiguousarray(image, dtype=np.float32)
    out = np.empty(source.shape, dtype=np.float32)
    if source.size:
        _blur(source, gaussian_weights(sigma_px, truncate=truncate).astype(np.float32), out)
    return out


@numba.njit(cache=True, nogil=True)
def _reflect(index: int, n: int) -> int:  # pragma: no cover - compiled
    """The index read for ``index`` under scipy's ``reflect`` edge (half-sample symmetric, period 2n)."""
    m = index % (2 * n)
    return 2 * n - 1 - m if m >= n else m


@numba.njit(cache=True, nogil=True)
def _blur(image: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    n_rows, n_cols = image.shape
    radius = (len(weights) - 1) // 2
    row = np.empty(n_cols + 2 * radius, dtype=np.float32)
    inner = row[radius : radius + n_cols]
    for i in range(n_rows):
        inner[:] = 0.0
        for k in range(2 * radius + 1):
            source = image[_reflect(i + k - radius, n_rows)]
            weight = weights[k]
            for j in range(n_cols):
                inner[j] += weight * source[j]
        for p in range(1, radius + 1):
            row[radius - p] = inner[_reflect(-p, n_cols)]
            row[radius + n_cols - 1 + p] = inner[_reflect(n_cols - 1 + p, n_cols)]
        target = out[i]
        target[:] = 0.0
        for k in range(2 * radius + 1):
            weight = weights[k]
            for j in range(n_cols):
                target[j] += weight * row[j + k]
