"""The segmentation stains: a boundary stain a segmenter can follow, and interior stains that fill the cells."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import label
from skimage.segmentation import expand_labels, watershed

from STpuppeteer.geometry.raster import PixelGrid, rasterize_labels
from STpuppeteer.stages.image import _boundary_mask, render_from_labels

PIXEL = 0.2125


@pytest.fixture(scope="module")
def labels():
    """Nucleus and cell rasters of a small confluent simulated tissue (the Xenium preset)."""
    from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator

    cells = SpotlessSimulator(SimulationConfig.from_preset("xenium", seed=6, n_cells=250)).generate_cells()
    grid = PixelGrid.from_bounds(tuple(cells.total_bounds), pixel_size=PIXEL)
    nuclei = rasterize_labels(np.asarray(cells["nucleus"].values), grid)
    return nuclei, rasterize_labels(np.asarray(cells.geometry.values), grid)


@pytest.fixture(scope="module")
def image(labels):
    nuclei, cells = labels
    return render_from_labels(nuclei, cell_labels=cells, interior=True, pixel_size=PIXEL, rng=np.random.default_rng(3))


def _per_cell_mean(values: np.ndarray, cell_labels: np.ndarray, where: np.ndarray, n: int) -> np.ndarray:
    total = np.bincount(cell_labels[where], weights=values[where].astype(float), minlength=n + 1)[1:]
    count = np.bincount(cell_labels[where], minlength=n + 1)[1:]
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def test_boundary_stain_is_brighter_on_the_true_boundaries(labels, image):
    """Per cell, mean boundary stain on its rim against its interior (≥ 1 µm from any border).

    The paired differences over cells must be positive at more than 10 standard errors, and the
    rim's median at least twice the interior's (the rim is drawn ~12 times brighter, blurred by
    the optics and floored by the background).
    """
    _, cells = labels
    n = int(cells.max())
    rim = _boundary_mask(cells)
    inner = (cells > 0) & ~_expand(rim, round(1.0 / PIXEL))
    on_rim = _per_cell_mean(image[1], cells, rim, n)
    inside = _per_cell_mean(image[1], cells, inner, n)
    ok = ~np.isnan(on_rim) & ~np.isnan(inside)
    assert ok.sum() > 0.9 * n
    diff = on_rim[ok] - inside[ok]
    assert diff.mean() > 10 * diff.std(ddof=1) / np.sqrt(ok.sum())
    assert np.median(image[1][rim]) > 2 * np.median(image[1][inner])


def _expand(mask: np.ndarray, pixels: int) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=pixels)


def test_interior_stains_fill_the_cytoplasm_and_spare_the_nucleus(labels, image):
    nuclei, cells = labels
    n = int(cells.max())
    inner = (cells > 0) & ~_expand(_boundary_mask(cells) | _boundary_mask(nuclei), round(0.5 / PIXEL))
    cytoplasm = _per_cell_mean(image[2], cells, inner & (nuclei == 0), n)
    nucleus = _per_cell_mean(image[2], cells, inner & (nuclei > 0), n)
    ok = ~np.isnan(cytoplasm) & ~np.isnan(nucleus)
    diff = cytoplasm[ok] - nucleus[ok]
    assert diff.mean() > 10 * diff.std(ddof=1) / np.sqrt(ok.sum())
    # The protein stain is strong in a minority of cells: 30 % drawn positive at 800 photons, the
    # others at 80, on a background of 120; a cell's mean lognormal factor (sd 0.4) falls below the
    # midpoint 560 in 10 % of positive cells, so ~27 % of cells lie above it (s.e. 2.8 % of 250).
    level = _per_cell_mean(image[3], cells, inner & (nuclei == 0), n)
    bright = level[~np.isnan(level)] > 560
    assert abs(bright.mean() - 0.27) < 4 * np.sqrt(0.27 * 0.73 / bright.size)


def _iou_per_true_cell(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """IoU of each true cell with the predicted label overlapping it most (0 when none does)."""
    n, k = int(truth.max()), int(predicted.max()) + 1
    joint = np.bincount(truth.ravel().astype(np.int64) * k + predicted.ravel(), minlength=(n + 1) * k)
    joint = joint.reshape(n + 1, k)
    overlap = joint[1:, 1:]
    best = overlap.argmax(axis=1)
    inter = overlap[np.arange(n), best]
    union = joint[1:].sum(axis=1) + joint[:, 1:].sum(axis=0)[best] - inter
    return np.where(inter > 0, inter / np.maximum(union, 1), 0.0)


def test_watershed_on_the_boundary_stain_beats_nucleus_expansion(labels, image):
    """A segmenter has something to find: nuclei from DAPI seed a watershed of the boundary stain.

    Both segmentations start from the same nuclei (Otsu on the smoothed DAPI) and stay in the
    same tissue mask; the expansion grows each nucleus by Xenium's default 5 µm, the watershed
    follows the boundary stain. Over the true cells, the paired IoU gain must exceed 5 standard
    errors.
    """
    _, cells = labels
    dapi = gaussian(image[0].astype(float), sigma=1.5)
    seeds = label(dapi > threshold_otsu(dapi))
    tissue = cells > 0
    expanded = expand_labels(seeds, distance=round(5.0 / PIXEL)) * tissue
    flooded = watershed(gaussian(image[1].astype(float), sigma=1.0), markers=seeds, mask=tissue)
    iou_expanded = _iou_per_true_cell(cells, expanded)
    iou_flooded = _iou_per_true_cell(cells, flooded)
    gain = iou_flooded - iou_expanded
    assert gain.mean() > 5 * gain.std(ddof=1) / np.sqrt(len(gain))
    assert iou_flooded.mean() > 0.8


def test_each_stain_draws_from_its_own_stream(labels):
    """DAPI and the boundary stain are the same whether or not the interior stains are drawn."""
    nuclei, cells = labels
    crop = (slice(0, 300), slice(0, 300))
    nuclei, cells = nuclei[crop], cells[crop]
    alone = render_from_labels(nuclei, cell_labels=cells, pixel_size=PIXEL, rng=np.random.default_rng(5))
    every = render_from_labels(nuclei, cell_labels=cells, interior=True, pixel_size=PIXEL, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(alone, every[:2])
    again = render_from_labels(nuclei, cell_labels=cells, interior=True, pixel_size=PIXEL, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(every, again)
    other = render_from_labels(nuclei, cell_labels=cells, interior=True, pixel_size=PIXEL, rng=np.random.default_rng(6))
    assert all((every[i] != other[i]).any() for i in range(4))


def test_the_writers_gain_keeps_what_the_watershed_finds(labels, image):
    """At the config's default gain the same draws, rounded to 4-photon counts, segment as well.

    The images share every draw (same generator), so per true cell the IoU of the watershed of
    the stored counts is paired with that of the photon counts: the mean paired difference must
    be under 0.005 (the rounding adds under 2 % to the darkest pixels' noise variance).
    """
    from STpuppeteer.config.images import DEFAULT_PHOTONS_PER_COUNT

    nuclei, cells = labels
    stored = render_from_labels(
        nuclei,
        cell_labels=cells,
        pixel_size=PIXEL,
        photons_per_count=DEFAULT_PHOTONS_PER_COUNT,
        rng=np.random.default_rng(3),
    )

    def flooded_iou(dapi: np.ndarray, boundary: np.ndarray) -> np.ndarray:
        smooth = gaussian(dapi.astype(float), sigma=1.5)
        seeds = label(smooth > threshold_otsu(smooth))
        flooded = watershed(gaussian(boundary.astype(float), sigma=1.0), markers=seeds, mask=cells > 0)
        return _iou_per_true_cell(cells, flooded)

    photons = flooded_iou(image[0], image[1])
    counts = flooded_iou(stored[0], stored[1])
    assert abs(counts.mean() - photons.mean()) < 0.005
    assert counts.mean() > 0.8
