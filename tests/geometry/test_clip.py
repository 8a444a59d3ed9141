"""Cells against the tissue's outline: one piece each, the one that holds the centre."""

import numpy as np
import shapely

from STpuppeteer.geometry.clip import boundary_distance, clip_to_region, largest_part_at

U_SHAPE = shapely.Polygon([(0, 0), (30, 0), (30, 30), (20, 30), (20, 10), (10, 10), (10, 30), (0, 30)])


def test_boundary_distance_of_a_box_equals_shapely():
    rng = np.random.default_rng(0)
    box = shapely.box(0.0, 0.0, 40.0, 25.0)
    xy = rng.uniform((0.0, 0.0), (40.0, 25.0), size=(200, 2))
    expected = shapely.distance(box.boundary, shapely.points(xy))
    np.testing.assert_allclose(boundary_distance(box, xy), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(boundary_distance(U_SHAPE, np.array([[5.0, 20.0]])), [5.0])


def test_a_cell_cut_in_two_keeps_the_piece_that_holds_its_centre():
    # A cell straddling the U's notch falls in two pieces; the smaller one holds the centre.
    cell = shapely.box(4.0, 15.0, 28.0, 25.0)
    centre = np.array([[6.0, 20.0]])
    cut = clip_to_region(np.array([cell], dtype=object), centre, U_SHAPE)
    assert shapely.get_type_id(cut[0]) == shapely.GeometryType.POLYGON
    assert shapely.contains_xy(cut[0], *centre[0])
    assert shapely.equals(cut[0], shapely.box(4.0, 15.0, 10.0, 25.0))
    # Without a piece at the centre, the largest piece stays.
    two = shapely.intersection(cell, U_SHAPE)
    assert shapely.equals(largest_part_at(np.array([two], dtype=object), np.array([[15.0, 20.0]]))[0],
                          shapely.box(20.0, 15.0, 28.0, 25.0))


def test_cells_inside_the_tissue_are_left_alone():
    cells = np.array([shapely.box(1.0, 1.0, 5.0, 5.0), shapely.box(21.0, 12.0, 29.0, 29.0)], dtype=object)
    kept = cells.copy()
    out = clip_to_region(cells, np.array([[3.0, 3.0], [25.0, 20.0]]), U_SHAPE)
    assert all(a is b for a, b in zip(out, kept, strict=True))
