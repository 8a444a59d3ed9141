"""stages/nucleus_room.py: the ellipse a nucleus has in its (stretched) cell, fitting and moving in it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely import affinity

from STpuppeteer.stages.morphology import star_polygons
from STpuppeteer.stages.nucleus_room import ellipse_room, fit_in_ellipse, room_along


def _shape(aspect: float, angle: float) -> np.ndarray:
    # M such that {q : |M q| ≤ s} is an ellipse of axis ratio `aspect` along `angle`
    c, s = math.cos(angle), math.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    return (rotation @ np.diag([1.0 / math.sqrt(aspect), math.sqrt(aspect)]) @ rotation.T)[None]


def _ellipse(centre: np.ndarray, shape: np.ndarray, scale: float) -> shapely.Polygon:
    phi = np.linspace(0.0, 2 * math.pi, 720, endpoint=False)
    points = np.linalg.solve(shape[0], scale * np.stack([np.cos(phi), np.sin(phi)]))
    return shapely.Polygon(points.T + centre)


def test_the_ellipse_touches_the_cell_and_stays_inside():
    rng = np.random.default_rng(0)
    for _ in range(20):
        cell = affinity.rotate(shapely.box(-20.0, -6.0, 25.0, 7.0), rng.uniform(0, 180), origin=(0, 0))
        cell = shapely.intersection(cell, shapely.Point(rng.normal(0, 2), rng.normal(0, 2)).buffer(22.0, 8))
        centre = rng.normal(0.0, 1.0, (1, 2))
        shape = _shape(rng.uniform(1.0, 4.0), rng.uniform(0.0, math.pi))
        scale = ellipse_room(np.array([cell]), centre, shape)[0]
        assert shapely.within(_ellipse(centre[0], shape, 0.999 * scale), cell)
        assert not shapely.within(_ellipse(centre[0], shape, 1.01 * scale), cell)


def test_a_round_shape_gives_the_distance_to_the_edge():
    cell = shapely.Polygon([(0, 0), (30, 2), (25, 20), (3, 15)])
    centre = np.array([[12.0, 9.0]])
    expected = shapely.distance(cell.exterior, shapely.Point(centre[0]))
    assert ellipse_room(np.array([cell]), centre, np.eye(2)[None] * 2.0)[0] == pytest.approx(2.0 * expected, rel=1e-12)


def test_nuclei_fit_and_move_inside_their_ellipse():
    rng = np.random.default_rng(1)
    n, n_vertices = 200, 32
    radii = rng.uniform(3.0, 9.0, (n, n_vertices))
    shape = np.concatenate([_shape(rng.uniform(1.0, 5.0), rng.uniform(0, math.pi)) for _ in range(n)])
    scale = rng.uniform(3.0, 8.0, n)
    fitted = fit_in_ellipse(radii, shape, scale)
    assert (fitted <= radii).all()
    # stars already inside are kept (those the fit left touching the ellipse, to the last bit)
    np.testing.assert_allclose(fit_in_ellipse(fitted, shape, scale), fitted, rtol=1e-12)
    small = 0.5 * fitted
    np.testing.assert_array_equal(fit_in_ellipse(small, shape, scale), small)
    # a star that touches its ellipse has no room; one fitted to 60 % of it has some, either way
    angle = rng.uniform(0.0, math.pi, n)
    assert room_along(fitted, shape, scale, angle).min() < 1e-9
    fitted = 0.6 * fitted
    room = room_along(fitted, shape, scale, angle)
    assert (room > 0).all()
    direction = np.column_stack([np.cos(angle), np.sin(angle)])
    for i in range(n):
        ellipse = _ellipse(np.zeros(2), shape[i : i + 1], scale[i] * 1.0001)  # the 720-gon lies inside the curve
        for sign in (-1.0, 1.0):
            moved = star_polygons(sign * room[i] * direction[i : i + 1], fitted[i : i + 1])[0]
            assert shapely.within(moved, ellipse)
        # a little farther and a corner leaves the ellipse on one side or the other
        too_far = [star_polygons(s * 1.02 * room[i] * direction[i : i + 1], fitted[i : i + 1])[0] for s in (-1, 1)]
        assert not all(shapely.within(p, ellipse) for p in too_far)
