"""Moves kept inside a region: reflected in a box, refused elsewhere, never stacking points."""

import numpy as np
import shapely

from STpuppeteer.geometry.confine import confined_moves


def test_points_pushed_into_a_corner_stay_apart():
    # Clipping would put all of them on the corner (10, 10); two equal centres have no power cell.
    rng = np.random.default_rng(0)
    xy = 10.0 - rng.uniform(0.0, 1.0, size=(50, 2))
    move = rng.uniform(1.0, 3.0, size=(50, 2))
    box = shapely.box(0.0, 0.0, 10.0, 10.0)
    moved = confined_moves(xy, move, box, is_box=True)
    assert np.all((moved >= 0.0) & (moved <= 10.0))
    assert len(np.unique(moved, axis=0)) == len(moved)
    # The reflection keeps the distance travelled past the wall on the inside.
    np.testing.assert_allclose(moved, 20.0 - (xy + move))


def test_moves_leaving_a_polygon_are_not_made():
    disc = shapely.Point(0.0, 0.0).buffer(5.0)
    xy = np.array([[0.0, 0.0], [4.0, 0.0]])
    move = np.array([[1.0, 1.0], [2.0, 0.0]])
    moved = confined_moves(xy, move, disc, is_box=False)
    np.testing.assert_array_equal(moved, [[1.0, 1.0], [4.0, 0.0]])
