"""geometry/stretch.py: the quasiconformal grid map that makes prescribed ellipses round."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from STpuppeteer.geometry.stretch import GridMap, solve_stretch_map


def _smooth_mu(rng: np.random.Generator, shape: tuple[int, int], k: float) -> np.ndarray:
    # A smooth field of directions with |μ| = k inside, falling to 0 at the grid's edges.
    angle = ndimage.gaussian_filter(rng.standard_normal(shape), 16.0, mode="wrap")
    angle *= 1.5 / angle.std()
    ny, nx = shape
    wx = np.clip(np.minimum(np.arange(nx), nx - 1 - np.arange(nx)) / 6.0, 0.0, 1.0)
    wy = np.clip(np.minimum(np.arange(ny), ny - 1 - np.arange(ny)) / 6.0, 0.0, 1.0)
    return -k * np.exp(2j * angle) * wy[:, None] * wx[None, :]


@pytest.mark.parametrize("elongation", [2.0, 3.0, 5.0])
def test_a_constant_coefficient_gives_the_linear_stretch(elongation):
    k = (elongation - 1) / (elongation + 1)
    theta = 0.4
    grid_map = solve_stretch_map(np.full((16, 20), -k * np.exp(2j * theta)), x0=5.0, y0=-3.0, step=2.0)
    jac = grid_map.jacobian(np.array([[12.0, 7.0]]))[0]
    # the map shortens the direction θ e times relative to the direction across it
    along = jac @ np.array([math.cos(theta), math.sin(theta)])
    across = jac @ np.array([-math.sin(theta), math.cos(theta)])
    assert np.hypot(*across) / np.hypot(*along) == pytest.approx(elongation, rel=1e-9)
    assert along @ across == pytest.approx(0.0, abs=1e-9)


def test_the_map_has_the_asked_dilatation_and_inverts():
    rng = np.random.default_rng(1)
    mu = _smooth_mu(rng, (96, 128), k=0.5)
    step = 2.0
    grid_map = solve_stretch_map(mu, x0=0.0, y0=0.0, step=step)
    assert grid_map.is_homeomorphism()
    # dilatation f_z̄ / f_z from the nodes' differences, where μ varies slowly compared with the grid
    f = grid_map.image
    f_x = (f[1:-1, 2:] - f[1:-1, :-2]) / (2 * step)
    f_y = (f[2:, 1:-1] - f[:-2, 1:-1]) / (2 * step)
    dilatation = (f_x + 1j * f_y) / (f_x - 1j * f_y)
    err = np.abs(dilatation - mu[1:-1, 1:-1])
    # against |μ| = 0.5: the iteration stops at an error of 10⁻³; the rest is the central differences' own error
    # where μ turns fastest (measured median 0.002–0.003, 99th percentile 0.02–0.03 over seeds)
    assert np.median(err) < 0.005
    assert np.quantile(err, 0.99) < 0.04
    # Newton's method finds the points back from their images, started near them
    xy = rng.uniform((20.0, 20.0), (230.0, 170.0), size=(500, 2))
    guess = xy + rng.normal(0.0, 1.0, xy.shape)
    np.testing.assert_allclose(grid_map.inverse(grid_map.forward(xy), guess), xy, atol=1e-8)


def test_a_folded_grid_is_not_a_homeomorphism():
    z = (np.arange(6)[None, :] + 1j * np.arange(5)[:, None]).astype(complex)
    assert GridMap(x0=0.0, y0=0.0, step=1.0, image=z).is_homeomorphism()
    folded = z.copy()
    folded[2, 2] = 3.5 + 2j  # past its right neighbour
    assert not GridMap(x0=0.0, y0=0.0, step=1.0, image=folded).is_homeomorphism()
