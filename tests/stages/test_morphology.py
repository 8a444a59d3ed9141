"""Nucleus shapes: star-convex polygons with the configured area, elongation and roughness."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from STpuppeteer.config import MorphologyConfig
from STpuppeteer.stages.morphology import draw_nucleus_radii, fit_radii, star_area, star_polygons

N = 4000


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def _draw(rng, codes=None, names=("ct_0",), **morph):
    codes = np.zeros(N, dtype=int) if codes is None else codes
    return draw_nucleus_radii(codes, MorphologyConfig(**morph), rng, celltype_names=list(names))


def test_polygons_valid_star_convex_with_n_vertices(rng):
    radii = _draw(rng, roughness=0.3, elongation_mean=3.0, n_vertices=48)
    assert radii.shape == (N, 48) and (radii > 0).all()
    polygons = star_polygons(np.zeros((N, 2)), radii)
    assert shapely.is_valid(polygons).all()
    assert (shapely.get_num_coordinates(polygons) == 49).all()
    # star-convex: the centre sees every vertex, i.e. it is inside and the polygon is simple
    assert shapely.contains_xy(polygons, 0.0, 0.0).all()
    np.testing.assert_allclose(shapely.area(polygons), star_area(radii))


def test_area_mean_and_cv(rng):
    area = star_area(_draw(rng, nucleus_area_mean_um2=50.0, nucleus_area_cv=0.3))
    assert area.mean() == pytest.approx(50.0, abs=5 * 50.0 * 0.3 / math.sqrt(N))
    # s.e. of a CV estimate ≈ cv / sqrt(2 N) (Gamma, small cv)
    assert area.std() / area.mean() == pytest.approx(0.3, abs=5 * 0.3 / math.sqrt(2 * N))


def test_zero_cv_gives_exact_area(rng):
    area = star_area(_draw(rng, nucleus_area_mean_um2=42.0, nucleus_area_cv=0.0, roughness=0.2))
    np.testing.assert_allclose(area, 42.0)


def test_celltype_overrides(rng):
    codes = np.repeat([0, 1], N // 2)
    radii = _draw(
        rng,
        codes=codes,
        names=("ct_0", "ct_1"),
        nucleus_area_mean_um2=50.0,
        celltype_shapes={"ct_1": {"nucleus_area_mean_um2": 30.0, "nucleus_area_cv": 0.0}},
    )
    area = star_area(radii)
    np.testing.assert_allclose(area[codes == 1], 30.0)
    assert area[codes == 0].mean() == pytest.approx(50.0, abs=5 * 50 * 0.3 / math.sqrt(N / 2))


def test_elongation_is_axis_ratio(rng):
    radii = _draw(rng, elongation_mean=2.0, elongation_cv=0.0, roughness=0.0, nucleus_area_cv=0.0, n_vertices=128)
    ratio = radii.max(axis=1) / radii.min(axis=1)
    # vertices sample the ellipse every 2.8°, so the extreme radii are within ~0.5 % of the axes
    np.testing.assert_allclose(ratio, 2.0, rtol=0.01)


def test_roughness_is_relative_radius_sd(rng):
    roughness = 0.06
    radii = _draw(rng, elongation_mean=1.0, roughness=roughness, nucleus_area_cv=0.0)
    relative = radii / radii.mean(axis=1, keepdims=True) - 1.0
    assert relative.std() == pytest.approx(roughness, rel=0.05)
    smooth = _draw(rng, elongation_mean=1.0, roughness=0.0, nucleus_area_cv=0.0)
    np.testing.assert_allclose(smooth, np.broadcast_to(smooth[:, :1], smooth.shape))


def test_fit_radii_caps_only_the_too_big(rng):
    radii = _draw(rng)
    limit = np.full(N, np.median(radii.max(axis=1)))
    fitted = fit_radii(radii, limit)
    assert (fitted.max(axis=1) <= limit * (1 + 1e-12)).all()
    small = radii.max(axis=1) <= limit
    np.testing.assert_array_equal(fitted[small], radii[small])
    # shrinking is uniform: the shape (radius profile) is kept
    np.testing.assert_allclose(fitted / fitted.max(axis=1, keepdims=True), radii / radii.max(axis=1, keepdims=True))


def test_same_generator_state_same_shapes():
    a = _draw(np.random.default_rng(5))
    b = _draw(np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
