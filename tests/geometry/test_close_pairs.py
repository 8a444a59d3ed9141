"""close_pairs_by_group finds exactly the pairs of the k-d tree it replaced (group as a far coordinate)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from STpuppeteer.geometry.close_pairs import close_pairs_by_group


def _tree_pairs(x, y, z, group, radius):
    _, code = np.unique(group, return_inverse=True)
    points = np.column_stack([x, y, z, code * (4.0 * radius)])
    return cKDTree(points).query_pairs(radius, output_type="ndarray")


def _as_set(pairs):
    return set(map(tuple, np.sort(pairs, axis=1).tolist()))


@pytest.mark.parametrize("per_group", [1.5, 10.0, 200.0])  # all-pairs groups and swept ones
@pytest.mark.parametrize("on_grid", [False, True])  # a grid puts many pairs at exactly the radius
def test_same_pairs_as_the_tree(rng, per_group, on_grid):
    n = 20_000
    group = rng.integers(0, int(n / per_group), n)
    x, y, z = rng.random(n) * 6.0, rng.random(n) * 6.0, rng.random(n) * 3.0
    if on_grid:
        x, y, z = (np.round(c * 4.0) / 4.0 for c in (x, y, z))
    pairs = close_pairs_by_group(x, y, z, group, radius=0.5)
    expected = _tree_pairs(x, y, z, group, 0.5)
    assert len(expected) > 30  # the test has pairs to find
    assert len(pairs) == len(_as_set(pairs))  # each pair once
    assert _as_set(pairs) == _as_set(expected)


def test_no_points_and_single_points():
    empty = np.zeros(0)
    assert close_pairs_by_group(empty, empty, empty, np.zeros(0, int), radius=1.0).shape == (0, 2)
    one = np.zeros(1)
    assert close_pairs_by_group(one, one, one, np.zeros(1, int), radius=1.0).shape == (0, 2)
