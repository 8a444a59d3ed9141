"""A smooth map of the plane that makes prescribed ellipses round: a quasiconformal map on a grid.

Given at every point a direction θ and an axis ratio e ≥ 1, :func:`solve_stretch_map` finds a
homeomorphism f of the plane that takes an (infinitesimal) ellipse of axis ratio e along θ to a
circle: it solves the Beltrami equation f_z̄ = μ f_z with μ = −(e − 1)/(e + 1) · e^{2iθ}. Such a
map exists and is unique up to a conformal map for every |μ| ≤ k < 1 (the measurable Riemann
mapping theorem of Ahlfors and Bers); it can only be *locally* a stretch by e along θ: where θ
turns, areas are scaled by a smoothly varying factor, the price of flattening the metric.

The grid is periodic (fast Fourier transforms): f = z + a z̄ + g with g periodic, and h = f_z̄
is the fixed point of h = μ (1 + B h), where B is the Beurling transform (multiplier k̄/k, with
k = k_x + i k_y the wave number) and ∂_z̄ g = h − a. The iteration contracts by max |μ| per
step. Callers keep μ at zero near the grid's edges, so the periodic images of the tissue do not
matter. Between nodes the map is bilinear; it is a homeomorphism when every grid square's image
is a convex quadrilateral of positive orientation, which :func:`solve_stretch_map` checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import fft

__all__ = ["GridMap", "solve_stretch_map"]

# The Beltrami iteration runs until its error bound k^n falls below this: the map need only be close to the
# asked dilatation (any homeomorphism gives cells that tile), and a 10⁻³ error in it is invisible in a cell.
_TOLERANCE = 1e-3
_MAX_ITERATIONS = 80
# Newton's method for the inverse: residual in µm, and the most steps.
_INVERSE_TOLERANCE = 1e-9
_INVERSE_STEPS = 40


@dataclass(frozen=True)
class GridMap:
    """A map of the plane given by the images of the nodes of a regular grid, bilinear between them.

    Attributes
    ----------
    x0, y0
        Position of node (0, 0).
    step
        Grid spacing (the same along x and y).
    image
        ``(ny, nx)`` complex images of the nodes: node (i, j) at (x0 + j step, y0 + i step) maps to
        (Re, Im). Points outside the grid are mapped by the nearest square's bilinear form.
    """

    x0: float
    y0: float
    step: float
    image: np.ndarray

    def _locate(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ny, nx = self.image.shape
        row = (xy[:, 1] - self.y0) / self.step
        col = (xy[:, 0] - self.x0) / self.step
        i0 = np.clip(np.floor(row).astype(np.int64), 0, ny - 2)
        j0 = np.clip(np.floor(col).astype(np.int64), 0, nx - 2)
        return i0, j0, row - i0, col - j0

    def _value_and_jacobian(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        i0, j0, fr, fc = self._locate(xy)
        f = self.image
        f00, f01, f10, f11 = f[i0, j0], f[i0, j0 + 1], f[i0 + 1, j0], f[i0 + 1, j0 + 1]
        value = f00 + (f01 - f00) * fc + (f10 - f00) * fr + (f11 - f10 - f01 + f00) * fr * fc
        d_dx = ((f01 - f00) + (f11 - f10 - f01 + f00) * fr) / self.step
        d_dy = ((f10 - f00) + (f11 - f10 - f01 + f00) * fc) / self.step
        return value, d_dx, d_dy

    def forward(self, xy: np.ndarray) -> np.ndarray:
        """Images of points.

        Parameters
        ----------
        xy
            ``(n, 2)`` points.

        Returns
        -------
        ``(n, 2)`` their images.
        """
        value, _, _ = self._value_and_jacobian(np.asarray(xy, dtype=float))
        return np.column_stack([value.real, value.imag])

    def jacobian(self, xy: np.ndarray) -> np.ndarray:
        """The map's derivative at points.

        Parameters
        ----------
        xy
            ``(n, 2)`` points.

        Returns
        -------
        ``(n, 2, 2)``: ``[[∂u/∂x, ∂u/∂y], [∂v/∂x, ∂v/∂y]]`` of the image (u, v).
        """
        _, d_dx, d_dy = self._value_and_jacobian(np.asarray(xy, dtype=float))
        return np.stack([np.column_stack([d_dx.real, d_dy.real]), np.column_stack([d_dx.imag, d_dy.imag])], axis=1)

    def inverse(self, uv: np.ndarray, guess: np.ndarray) -> np.ndarray:
        """Points whose images are ``uv`` (Newton's method on the bilinear squares).

        Parameters
        ----------
        uv
            ``(n, 2)`` images.
        guess
            ``(n, 2)`` starting points near the answers (e.g. a known point mapped back by the
            inverse of the derivative there).

        Returns
        -------
        ``(n, 2)`` points.

        Raises
        ------
        RuntimeError
            If Newton's method does not converge (the images lie far outside the grid's image).
        """
        target = uv[:, 0] + 1j * uv[:, 1]
        xy = np.array(guess, dtype=float)
        todo = np.arange(len(xy))
        for _ in range(_INVERSE_STEPS):
            value, d_dx, d_dy = self._value_and_jacobian(xy[todo])
            residual = target[todo] - value
            done = np.abs(residual) <= _INVERSE_TOLERANCE
            if done.all():
                return xy
            todo, residual, d_dx, d_dy = todo[~done], residual[~done], d_dx[~done], d_dy[~done]
            det = d_dx.real * d_dy.imag - d_dy.real * d_dx.imag
            xy[todo, 0] += (d_dy.imag * residual.real - d_dy.real * residual.imag) / det
            xy[todo, 1] += (d_dx.real * residual.imag - d_dx.imag * residual.real) / det
        value, _, _ = self._value_and_jacobian(xy[todo])
        if np.abs(target[todo] - value).max(initial=0.0) > 1e3 * _INVERSE_TOLERANCE:
            msg = "the inverse of the stretch map did not converge (points outside its grid?)"
            raise RuntimeError(msg)
        return xy

    def is_homeomorphism(self) -> bool:
        """Whether every grid square's image is a convex quadrilateral of positive orientation."""
        f = self.image
        corners = (f[:-1, :-1], f[:-1, 1:], f[1:, 1:], f[1:, :-1])
        for k in range(4):
            a, b, c = corners[k], corners[(k + 1) % 4], corners[(k + 2) % 4]
            turn = ((b - a).conjugate() * (c - b)).imag
            if not (turn > 0).all():
                return False
        return True


def solve_stretch_map(mu: np.ndarray, *, x0: float, y0: float, step: float) -> GridMap:
    """The map f with f_z̄ = μ f_z on a periodic grid.

    Parameters
    ----------
    mu
        ``(ny, nx)`` complex Beltrami coefficient at the nodes, |μ| < 1; it should vanish near the
        grid's edges (the grid is periodic).
    x0, y0
        Position of node (0, 0).
    step
        Grid spacing.

    Returns
    -------
    The map (node (0, 0) maps near (x0, y0); the image of a square of side L has area ≈ L²
    on average). Check :meth:`GridMap.is_homeomorphism` before use.

    Examples
    --------
    A constant μ = −1/2 is the linear map that shortens x three times relative to y:

    >>> f = solve_stretch_map(np.full((8, 8), -0.5 + 0j), x0=0.0, y0=0.0, step=1.0)
    >>> (f.jacobian(np.array([[3.0, 3.0]]))[0] / 0.5).round(6).tolist()
    [[1.0, 0.0], [0.0, 3.0]]
    """
    ny, nx = mu.shape
    k_max = float(np.abs(mu).max(initial=0.0))
    kx = 2.0 * math.pi * fft.fftfreq(nx, step)
    ky = 2.0 * math.pi * fft.fftfreq(ny, step)
    wave = kx[None, :] + 1j * ky[:, None]
    wave[0, 0] = 1.0
    beurling = np.conj(wave) / wave
    beurling[0, 0] = 0.0
    h = mu.astype(complex)
    if k_max > 0:
        n_iterations = min(_MAX_ITERATIONS, math.ceil(math.log(_TOLERANCE) / math.log(k_max)) + 1)
        for _ in range(n_iterations):
            h = mu * (1.0 + fft.ifft2(beurling * fft.fft2(h)))
    a = h.mean()
    g_hat = -2j * fft.fft2(h - a) / wave
    g_hat[0, 0] = 0.0
    g = fft.ifft2(g_hat)
    z = (np.arange(nx) * step)[None, :] + 1j * (np.arange(ny) * step)[:, None]
    return GridMap(x0=x0, y0=y0, step=step, image=complex(x0, y0) + z + a * np.conj(z) + g)
