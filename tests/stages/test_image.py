"""Morphology images: rasterisation and a DAPI-like render that a simple segmenter can read."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import label
from skimage.morphology import remove_small_objects

from STpuppeteer.geometry.raster import PixelGrid, rasterize_labels
from STpuppeteer.stages.image import render_from_labels, render_morphology
from synthetic_result import make_synthetic_result


@pytest.fixture(scope="module", params=["synthetic", "simulated"])
def cells(request):
    """Hand-built hexagonal cells, and the cells of a real small simulation."""
    if request.param == "synthetic":
        return make_synthetic_result(5, n_rows=12, n_cols=12).cell_gdf
    from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator

    sim = SpotlessSimulator(SimulationConfig.from_preset("xenium", seed=6, n_cells=250))
    return sim.generate_cells()


@pytest.fixture(scope="module")
def grid(cells):
    return PixelGrid.from_bounds(tuple(cells.total_bounds), pixel_size=0.2125)


@pytest.fixture(scope="module")
def image(cells, grid):
    return render_morphology(cells, membrane=True, rng=np.random.default_rng(11))


def test_rasterized_area_matches_polygon_area(cells, grid):
    raster = rasterize_labels(np.asarray(cells["nucleus"].values), grid)
    area = np.bincount(raster.ravel(), minlength=len(cells) + 1)[1:] * grid.pixel_size**2
    # a pixel-centre rule misclassifies about half the pixels the boundary crosses: the error
    # is of the order of perimeter × pixel size / 2 per nucleus, a few percent here
    tolerance = shapely.length(np.asarray(cells["nucleus"].values)) * grid.pixel_size / 2
    assert (np.abs(area - cells["nucleus_area"].to_numpy()) < tolerance).all()


def test_rasterized_pixels_are_inside_their_polygon(cells, grid):
    raster = rasterize_labels(np.asarray(cells.geometry.values), grid, labels=np.arange(len(cells)) + 10)
    rows, cols = np.nonzero(raster)
    pick = np.random.default_rng(0).choice(len(rows), 2000, replace=False)
    x = grid.x0 + (cols[pick] + 0.5) * grid.pixel_size
    y = grid.y0 + (rows[pick] + 0.5) * grid.pixel_size
    polys = np.asarray(cells.geometry.values)[raster[rows[pick], cols[pick]] - 10]
    assert shapely.contains_xy(polys, x, y).all()


def test_overlapping_polygons_later_wins():
    grid = PixelGrid.from_bounds((0, 0, 6, 2), pixel_size=1.0)
    raster = rasterize_labels(np.array([shapely.box(0, 0, 4, 2), shapely.box(2, 0, 6, 2)]), grid)
    np.testing.assert_array_equal(raster, [[1, 1, 2, 2, 2, 2]] * 2)


def test_image_shape_and_dtype(image, grid):
    # default bounds: the cells' total bounds
    assert image.dtype == np.uint16
    assert image.shape == (2, *grid.shape)


def test_otsu_segmenter_finds_the_nuclei(cells, grid, image):
    truth = rasterize_labels(np.asarray(cells["nucleus"].values), grid) > 0
    smooth = gaussian(image[0].astype(float), sigma=1.5)
    mask = remove_small_objects(smooth > threshold_otsu(smooth), max_size=int(2.0 / grid.pixel_size**2))
    n_found = label(mask).max()
    assert abs(n_found - len(cells)) <= 0.05 * len(cells)
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.8


def test_membrane_channel_outlines_cells(cells, grid, image):
    cell_labels = rasterize_labels(np.asarray(cells.geometry.values), grid)
    edge = np.zeros(cell_labels.shape, dtype=bool)
    edge[:, 1:] |= np.diff(cell_labels, axis=1) != 0
    interior = (cell_labels > 0) & ~edge
    interior[:, :-1] &= ~edge[:, 1:]
    assert np.median(image[1][edge & (cell_labels > 0)]) > 2 * np.median(image[1][interior])


def test_same_generator_same_image(cells, grid):
    nuclei = rasterize_labels(np.asarray(cells["nucleus"].values), grid)
    a = render_from_labels(nuclei, rng=np.random.default_rng(1))
    b = render_from_labels(nuclei, rng=np.random.default_rng(1))
    c = render_from_labels(nuclei, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_shot_noise_is_poisson_like():
    """Background far from any nucleus: variance ≈ mean + read noise², within 5 SE."""
    flat = render_from_labels(np.zeros((300, 300), dtype=np.uint32), rng=np.random.default_rng(3))[0]
    patch = flat.astype(float)
    # horizontal differences of neighbours cancel the background, which varies over ~100 px
    diffs = (patch[:, 1::2] - patch[:, 0::2]).ravel()
    var = diffs.var() / 2
    expected = patch.mean() + 4.0**2
    se = expected * np.sqrt(2 / diffs.size)
    assert abs(var - expected) < 5 * se


def test_interior_stains_need_cells():
    with pytest.raises(ValueError, match="cell_labels"):
        render_from_labels(np.zeros((4, 4), dtype=np.uint32), interior=True, rng=np.random.default_rng(0))


def test_bad_grid_is_refused():
    with pytest.raises(ValueError, match="pixel_size"):
        PixelGrid.from_bounds((0, 0, 1, 1), pixel_size=0)
    with pytest.raises(ValueError, match="bounds"):
        PixelGrid.from_bounds((0, 0, 0, 1), pixel_size=1)
    with pytest.raises(ValueError, match="smaller tile"):
        PixelGrid.from_bounds((0, 0, 10_000, 10_000), pixel_size=0.2125)


def test_camera_gain_rounds_the_photons_and_nothing_else():
    """Stored counts × gain are the photon image to within the rounding, without bias.

    Same generator, so the same photons: each pixel of ``g × counts`` is within g/2 + 1/2 of the
    (rounded) photon count, and their mean difference is 0 within 5 standard errors.
    """
    nuclei = np.zeros((200, 300), dtype=np.uint32)
    nuclei[50:120, 60:150] = 1
    photons = render_from_labels(nuclei, rng=np.random.default_rng(4))[0].astype(float)
    for gain in (2.0, 4.0):
        counts = render_from_labels(nuclei, photons_per_count=gain, rng=np.random.default_rng(4))[0]
        error = (gain * counts - photons).ravel()
        assert np.abs(error).max() <= gain / 2 + 0.5
        assert abs(error.mean()) < 5 * error.std() / np.sqrt(error.size)


def test_camera_gain_keeps_the_shot_noise_and_adds_the_rounding():
    """Flat background at a gain of 8 photons a count: in photons, variance = mean + read noise² + 8²/12.

    The rounding's 5.3 photons² is 12 standard errors here, so a gain that dropped or doubled it fails.
    """
    gain = 8.0
    flat = render_from_labels(
        np.zeros((600, 600), dtype=np.uint32), photons_per_count=gain, rng=np.random.default_rng(3)
    )[0]
    patch = gain * flat.astype(float)
    diffs = (patch[:, 1::2] - patch[:, 0::2]).ravel()
    var = diffs.var() / 2
    expected = patch.mean() + 4.0**2 + gain**2 / 12
    se = expected * np.sqrt(2 / diffs.size)
    assert abs(var - expected) < 5 * se


def test_a_gain_that_is_not_a_positive_number_is_refused():
    for gain in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="photons_per_count"):
            render_from_labels(np.zeros((4, 4), dtype=np.uint32), photons_per_count=gain, rng=np.random.default_rng(0))
