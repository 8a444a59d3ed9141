"""The fast paths of placement and landing give exactly what the plain algorithms give.

The guide-table sampler must pick the same triangle as a binary search over the cumulative
fan areas, and the landing locator the same cell as a brute-force test against every cell;
speed itself is measured in ``benchmarks/bench_transcripts.py``, not here.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from STpuppeteer.geometry.locate import CellLocator
from STpuppeteer.geometry.star import StarPolygons


def _star_polygons(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Star-shaped polygons about their centres, with very different vertex counts and areas."""
    geoms, centres = [], []
    for i in range(n):
        k = int(rng.integers(4, 300)) if i % 7 else 2000
        theta = (np.arange(k) + rng.uniform(0.0, 0.9, k)) * (2 * np.pi / k)
        r = rng.uniform(0.2, 3.0, k) * (1e-3 if i % 11 == 0 else 1.0)
        cx, cy = 10.0 * (i % 10), 10.0 * (i // 10)
        geoms.append(shapely.Polygon(np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)])))
        centres.append((cx, cy))
    return np.array(geoms, dtype=object), np.array(centres)


def _reference_sample(polys: StarPolygons, rows: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fan sampler written plainly: binary search of the cumulative area, folded barycentrics."""
    target = u[0] * polys.area[rows] + polys.row_base[rows]
    j = np.minimum(np.searchsorted(polys.cum, target, side="right"), polys.start[rows + 1] - 2)
    a, b = u[1].copy(), u[2].copy()
    over = a + b > 1.0
    a[over], b[over] = 1.0 - a[over], 1.0 - b[over]
    x = polys.rvx[j] * a + polys.rvx[j + 1] * b + polys.centre[rows, 0]
    y = polys.rvy[j] * a + polys.rvy[j + 1] * b + polys.centre[rows, 1]
    return x, y


class _Fixed:
    """Stands in for a generator: always returns the given uniforms."""

    def __init__(self, u: np.ndarray) -> None:
        self.u = u

    def random(self, shape: tuple[int, int]) -> np.ndarray:
        return self.u.copy()


@pytest.fixture(scope="module")
def polygons() -> StarPolygons:
    geoms, centres = _star_polygons(np.random.default_rng(3), 60)
    return StarPolygons.from_geometries(geoms, centres)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_guide_sampler_equals_binary_search(polygons: StarPolygons, seed: int) -> None:
    assert polygons.star.all()
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.integers(0, len(polygons), 50_000))
    x, y = polygons.sample(rows, np.random.default_rng(seed + 100))
    u = np.random.default_rng(seed + 100).random((3, len(rows)))
    rx, ry = _reference_sample(polygons, rows, u)
    np.testing.assert_array_equal(x, rx)
    np.testing.assert_array_equal(y, ry)


def test_guide_sampler_at_slice_edges(polygons: StarPolygons) -> None:
    # Uniforms exactly on guide-slice edges (g / bins) and just below them: the worst case
    # for an off-by-one in the guide table.
    rows = np.repeat(np.arange(len(polygons)), 64)
    g = np.tile(np.arange(64), len(polygons))
    edge = np.minimum(g / 64.0, np.nextafter(1.0, 0.0))
    for u0 in (edge, np.maximum(np.nextafter(edge, -1.0), 0.0)):
        u = np.vstack([u0, np.full_like(u0, 0.25), np.full_like(u0, 0.5)])
        rx, ry = _reference_sample(polygons, rows, u)

        x, y = polygons.sample(rows, _Fixed(u))
        np.testing.assert_array_equal(x, rx)
        np.testing.assert_array_equal(y, ry)


def test_sample_with_fallback_rows_matches_split() -> None:
    # A non-star polygon (a U shape about a centre outside its arms) mixed with star ones.
    u_shape = shapely.Polygon([(0, 0), (6, 0), (6, 6), (4, 6), (4, 2), (2, 2), (2, 6), (0, 6)])
    geoms = np.array([shapely.box(10, 0, 12, 2), u_shape, shapely.box(20, 0, 23, 3)], dtype=object)
    polys = StarPolygons.from_geometries(geoms, np.array([[11, 1], [3, 4], [21.5, 1.5]]))
    assert polys.star.tolist() == [True, False, True]
    rows = np.repeat(np.arange(3), 4000)
    x, y = polys.sample(rows, np.random.default_rng(0))
    assert shapely.contains_xy(geoms[rows], x, y).mean() > 0.999
    assert polys.contains(rows, x, y).all()


def test_locator_matches_brute_force() -> None:
    geoms, centres = _star_polygons(np.random.default_rng(5), 40)
    polys = StarPolygons.from_geometries(geoms, centres)
    loc = CellLocator.build(polys, polys, step=1.5)
    rng = np.random.default_rng(6)
    x, y = rng.uniform(-5, 95, 40_000), rng.uniform(-5, 45, 40_000)
    row, _ = loc.locate(x, y)
    hits = shapely.intersects_xy(geoms[:, None], x[None, :], y[None, :])
    expected = np.where(hits.any(axis=0), hits.argmax(axis=0), -1)
    # Points within rounding of an edge may go either way; there are none at this density.
    np.testing.assert_array_equal(row, expected)


def test_locator_walk_equals_vectorised_path() -> None:
    # The compiled walk against the vectorised path on the same points: shared edges (lowest row
    # wins), a cell not star-shaped about its centre (its points go to shapely), points outside.
    u_shape = shapely.Polygon([(0, 0), (6, 0), (6, 6), (4, 6), (4, 2), (2, 2), (2, 6), (0, 6)])
    geoms = np.array([shapely.box(6, 0, 9, 3), u_shape, shapely.box(6, 3, 9, 6), shapely.box(2, 2, 4, 6)],
                     dtype=object)
    polys = StarPolygons.from_geometries(geoms, np.array([[7.5, 1.5], [3, 4], [7.5, 4.5], [3, 4]]))
    assert polys.star.tolist() == [True, False, True, True]
    loc = CellLocator.build(polys, polys, step=1.0)
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-1, 10, 20_000), np.full(50, 6.0), rng.uniform(6, 9, 50)])
    y = np.concatenate([rng.uniform(-1, 7, 20_000), rng.uniform(0, 6, 50), np.full(50, 3.0)])
    row, in_nucleus = loc.locate(x, y)
    expected = np.full(len(x), -1, dtype=np.int64)
    loc._locate_chunk(x, y, expected)
    np.testing.assert_array_equal(row, expected)
    found = expected >= 0
    np.testing.assert_array_equal(in_nucleus[found], polys.contains(expected[found], x[found], y[found]))
    assert not in_nucleus[~found].any()
    assert (row == 1).any() and (row == 0).any() and (row == -1).any()


def _reference_contains(polys: StarPolygons, rows: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The sector test written plainly: a binary search of the vertices' angle keys."""
    dx, dy = x - polys.centre[rows, 0], y - polys.centre[rows, 1]
    phi = np.mod(np.arctan2(dy, dx) - polys.theta0[rows], 2 * np.pi)
    j = np.searchsorted(polys.key, rows * 8.0 + phi, side="right") - 1
    j = np.clip(j, polys.start[rows], polys.start[rows + 1] - 2)
    ex, ey = polys.vx[j + 1] - polys.vx[j], polys.vy[j + 1] - polys.vy[j]
    return ex * (y - polys.vy[j]) - ey * (x - polys.vx[j]) >= 0.0


def test_sector_table_equals_binary_search(polygons: StarPolygons) -> None:
    rng = np.random.default_rng(7)
    rows = rng.integers(0, len(polygons), 60_000)
    # Half the points on the rays through vertices (the sector boundaries), scaled about 1.
    half = len(rows) // 2
    v = polygons.start[rows[:half]] + (rng.random(half) * (np.diff(polygons.start)[rows[:half]] - 1)).astype(int)
    s = rng.uniform(0.9, 1.1, half)
    cx, cy = polygons.centre[rows, 0], polygons.centre[rows, 1]
    x = np.concatenate([cx[:half] + s * polygons.rvx[v], cx[half:] + rng.uniform(-3, 3, len(rows) - half)])
    y = np.concatenate([cy[:half] + s * polygons.rvy[v], cy[half:] + rng.uniform(-3, 3, len(rows) - half)])
    got = polygons.contains(rows, x, y)
    np.testing.assert_array_equal(got, _reference_contains(polygons, rows, x, y))
    assert 0.05 < got.mean() < 0.95


def test_distance_equals_shapely(polygons: StarPolygons) -> None:
    # Points near (on vertex rays, within a cell's width) and far (many diameters away, where
    # the nearest edge lies far round from the point's own sector), and polygons with 4 to
    # 2000 vertices, some tiny.
    rng = np.random.default_rng(8)
    rows = rng.integers(0, len(polygons), 40_000)
    scale = rng.choice([0.5, 2.0, 40.0], len(rows))
    x = polygons.centre[rows, 0] + scale * rng.uniform(-1, 1, len(rows))
    y = polygons.centre[rows, 1] + scale * rng.uniform(-1, 1, len(rows))
    got = polygons.distance(rows, x, y)
    expected = shapely.distance(polygons.geoms[rows], shapely.points(x, y))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert 0.05 < (got == 0).mean() < 0.5


def test_distance_of_non_star_polygons_falls_back_on_shapely() -> None:
    u_shape = shapely.Polygon([(0, 0), (6, 0), (6, 6), (4, 6), (4, 2), (2, 2), (2, 6), (0, 6)])
    geoms = np.array([u_shape, shapely.box(10, 0, 12, 2)], dtype=object)
    polys = StarPolygons.from_geometries(geoms, np.array([[3, 4], [11, 1]]))
    rng = np.random.default_rng(9)
    rows = rng.integers(0, 2, 5_000)
    x, y = rng.uniform(-3, 15, len(rows)), rng.uniform(-3, 9, len(rows))
    expected = shapely.distance(geoms[rows], shapely.points(x, y))
    np.testing.assert_allclose(polys.distance(rows, x, y), expected, rtol=1e-12, atol=1e-12)


def test_fans_measure_what_shapely_measures() -> None:
    # Every second polygon given clockwise: the fans orient rings counter-clockwise first.
    geoms, centres = _star_polygons(np.random.default_rng(12), 50)
    geoms = np.array([g if i % 2 else shapely.Polygon(g.exterior.coords[::-1]) for i, g in enumerate(geoms)],
                     dtype=object)
    polys = StarPolygons.from_geometries(geoms, centres)
    assert polys.star.all()
    np.testing.assert_allclose(polys.area, shapely.area(geoms), rtol=1e-9)
    boundary = shapely.get_exterior_ring(geoms)
    np.testing.assert_allclose(polys.rmin, shapely.distance(shapely.points(centres), boundary), rtol=1e-9)
    vertex_r = [np.hypot(*(np.asarray(g.exterior.coords) - c).T).max() for g, c in zip(geoms, centres, strict=True)]
    np.testing.assert_allclose(polys.rmax, vertex_r, rtol=1e-12)
    last = polys.start[1:] - 1
    np.testing.assert_allclose(np.diff(np.concatenate([[0.0], polys.cum_len[last]])), shapely.length(boundary),
                               rtol=1e-9)
    # Counter-clockwise: every fan triangle positive, keys increasing within each ring.
    for i in range(len(polys)):
        keys = polys.key[polys.start[i]:polys.start[i + 1] - 1]
        assert np.all(np.diff(keys) > 0) and keys[0] == 8.0 * i
