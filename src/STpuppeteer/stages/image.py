"""Morphology images rendered from the true cells: a DAPI-like nuclear stain and a membrane stain.

The image is what a segmenter would see: each nucleus a bright blob with its own
brightness and a chromatin texture, blurred by the optics, on a background with slowly
varying autofluorescence, with Poisson shot noise and camera read noise on top. The
optional membrane channel outlines each cell's boundary. Pixel ``(row, col)`` covers
``[x0 + col·p, x0 + (col+1)·p) × [y0 + row·p, y0 + (row+1)·p)`` in µm, ``p`` the pixel size,
so ``x_µm / p`` is the pixel coordinate when the grid starts at the origin (as Xenium's does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy import ndimage

from STpuppeteer.geometry.raster import PixelGrid, rasterize_labels
from STpuppeteer.stages.image_noise import UPSAMPLE_BAND_PIXELS, low_frequency_noise, smooth_noise

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["XENIUM_PIXEL_SIZE", "render_from_labels", "render_morphology"]

XENIUM_PIXEL_SIZE = 0.2125  # µm per pixel of Xenium's morphology images

# Photon counts of the rendered stains (uint16 range, far from saturation).
_BACKGROUND = 120.0
_AUTOFLUORESCENCE_CV = 0.15
_AUTOFLUORESCENCE_SCALE_UM = 25.0
_NUCLEUS_PEAK = 1500.0
_NUCLEUS_BRIGHTNESS_SD = 0.25  # log-scale spread of brightness between nuclei
_CHROMATIN_SD = 0.3  # relative amplitude of the chromatin texture
_CHROMATIN_SCALE_UM = 0.5
_MEMBRANE_PEAK = 700.0
_MEMBRANE_WIDTH_UM = 0.6
_INTERIOR_RNA_PEAK = 500.0
_INTERIOR_RNA_NUCLEAR = 0.3  # relative RNA stain inside the nucleus
_INTERIOR_PROTEIN_PEAK = 800.0
_INTERIOR_PROTEIN_POSITIVE = 0.3  # fraction of cells expressing the protein stain's targets
_PSF_SIGMA_UM = 0.35
_READ_NOISE = 4.0


def _boundary_mask(cell_labels: np.ndarray) -> np.ndarray:
    """Pixels of a cell next to a pixel of another cell or of the background."""
    edge = np.zeros(cell_labels.shape, dtype=bool)
    for axis in (0, 1):
        diff = np.diff(cell_labels, axis=axis) != 0
        lo = [slice(None), slice(None)]
        hi = [slice(None), slice(None)]
        lo[axis] = slice(None, -1)
        hi[axis] = slice(1, None)
        edge[tuple(lo)] |= diff
        edge[tuple(hi)] |= diff
    return edge & (cell_labels > 0)


def _finish(signal: np.ndarray, rng: np.random.Generator, *, pixel_size: float) -> np.ndarray:
    """Optics, background, shot and read noise: expected photons to a uint16 image.

    Shot noise (Poisson, variance = mean) plus read noise (normal) is drawn as one normal of
    variance mean + read noise²: the photon counts here are tens to thousands, where the
    Poisson is normal to within its skewness 1/√mean, and a float32 normal costs a small
    fraction of a Poisson draw.
    """
    blurred = ndimage.gaussian_filter(signal, _PSF_SIGMA_UM / pixel_size)
    background = low_frequency_noise(rng, signal.shape, _AUTOFLUORESCENCE_SCALE_UM / pixel_size)
    out = np.empty(signal.shape, dtype=np.uint16)
    # Row bands that stay in cache through the dozen per-pixel steps.
    band = max(1, UPSAMPLE_BAND_PIXELS // max(signal.shape[1], 1))
    for lo in range(0, signal.shape[0], band):
        expected = background[lo:lo + band]
        expected *= np.float32(_BACKGROUND * _AUTOFLUORESCENCE_CV)
        expected += np.float32(_BACKGROUND)
        expected += blurred[lo:lo + band]
        np.maximum(expected, 0, out=expected)
        noise = rng.standard_normal(expected.shape, dtype=np.float32)
        sd = np.add(expected, np.float32(_READ_NOISE**2))
        np.sqrt(sd, out=sd)
        noise *= sd
        noise += expected
        np.rint(noise, out=noise)
        np.clip(noise, 0, np.iinfo(np.uint16).max, out=noise)
        out[lo:lo + band] = noise
    return out


def _per_cell(rng: np.random.Generator, n_labels: int, sd: float) -> np.ndarray:
    """Mean-one lognormal factor per label; 0 for the background label."""
    factor = rng.lognormal(-0.5 * sd**2, sd, size=n_labels + 1).astype(np.float32)
    factor[0] = 0.0
    return factor


def _interior_stains(
    nucleus_labels: np.ndarray, cell_labels: np.ndarray, *, pixel_size: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """Expected photons of the two interior stains of Xenium's segmentation kit.

    The RNA stain is granular and mostly cytoplasmic; the protein stain is smooth and strong
    in a minority of cells.
    """
    n_cells = int(cell_labels.max(initial=0))
    cytoplasm = (cell_labels > 0) & (nucleus_labels == 0)
    rna = _INTERIOR_RNA_PEAK * _per_cell(rng, n_cells, 0.3)[cell_labels]
    rna *= np.where(cytoplasm, np.float32(1.0), np.float32(_INTERIOR_RNA_NUCLEAR))
    rna *= np.clip(1 + 0.5 * smooth_noise(rng, cell_labels.shape, 0.3 / pixel_size), 0.0, None)
    positive = rng.uniform(size=n_cells + 1) < _INTERIOR_PROTEIN_POSITIVE
    level = np.where(positive, np.float32(1.0), np.float32(0.1)) * _per_cell(rng, n_cells, 0.4)
    protein = _INTERIOR_PROTEIN_PEAK * level.astype(np.float32)[cell_labels]
    protein *= np.clip(1 + 0.3 * smooth_noise(rng, cell_labels.shape, 1.0 / pixel_size), 0.0, None)
    return [rna, protein]


def render_from_labels(
    nucleus_labels: np.ndarray,
    *,
    cell_labels: np.ndarray | None = None,
    interior: bool = False,
    pixel_size: float = XENIUM_PIXEL_SIZE,
    rng: np.random.Generator,
) -> np.ndarray:
    """Render the stains from label rasters of the nuclei (and cells, for the other stains).

    Parameters
    ----------
    nucleus_labels
        Label raster of the nuclei (0 = none), e.g. from :func:`rasterize_labels`.
    cell_labels
        Label raster of the cells; when given, a membrane (boundary) channel is rendered too.
    interior
        Also render two interior stains (RNA-like and protein-like), as Xenium's
        multimodal segmentation kit; needs ``cell_labels``.
    pixel_size
        µm per pixel (sets the scale of blur, texture and background variation).
    rng
        Source of every random draw. The DAPI channel is drawn first, so adding channels
        does not change it.

    Returns
    -------
    ``uint16`` array ``(n_channels, n_rows, n_cols)``: DAPI, then membrane, then the RNA and
    protein interior stains, as requested.
    """
    if interior and cell_labels is None:
        msg = "interior=True needs cell_labels: the interior stains fill the cells."
        raise ValueError(msg)
    shape = nucleus_labels.shape
    brightness = _NUCLEUS_PEAK * _per_cell(rng, int(nucleus_labels.max(initial=0)), _NUCLEUS_BRIGHTNESS_SD)
    texture = smooth_noise(rng, shape, _CHROMATIN_SCALE_UM / pixel_size)
    # max(1 + sd·texture, 0.1) in place (the image's largest arrays); the background's brightness is
    # 0, so the product is 0 outside every nucleus.
    texture *= np.float32(_CHROMATIN_SD)
    texture += np.float32(1)
    np.maximum(texture, np.float32(0.1), out=texture)
    dapi = brightness[nucleus_labels]
    dapi *= texture
    del texture
    channels = [_finish(dapi, rng, pixel_size=pixel_size)]
    if cell_labels is not None:
        if cell_labels.shape != shape:
            msg = f"cell_labels has shape {cell_labels.shape}; it must match nucleus_labels {shape}."
            raise ValueError(msg)
        edge = _boundary_mask(cell_labels)
        width_px = max(1, round(_MEMBRANE_WIDTH_UM / pixel_size / 2))
        edge = ndimage.binary_dilation(edge, iterations=width_px - 1) if width_px > 1 else edge
        edge &= cell_labels > 0
        membrane = np.where(edge, np.float32(_MEMBRANE_PEAK), np.float32(0.0))
        membrane *= np.clip(1 + 0.3 * smooth_noise(rng, shape, 1.0 / pixel_size), 0.1, None)
        channels.append(_finish(membrane, rng, pixel_size=pixel_size))
    if interior:
        for stain in _interior_stains(nucleus_labels, cell_labels, pixel_size=pixel_size, rng=rng):
            channels.append(_finish(stain, rng, pixel_size=pixel_size))
    return np.stack(channels)


def render_morphology(
    cell_gdf: gpd.GeoDataFrame,
    *,
    pixel_size: float = XENIUM_PIXEL_SIZE,
    bounds: tuple[float, float, float, float] | None = None,
    membrane: bool = False,
    interior: bool = False,
    rng: np.random.Generator,
) -> np.ndarray:
    """DAPI-like (and optionally membrane and interior stains) image of the true nuclei and cells.

    Parameters
    ----------
    cell_gdf
        Cells with their ``geometry`` (cell polygon) and ``nucleus`` columns, µm.
    pixel_size
        µm per pixel; Xenium's is 0.2125.
    bounds
        ``(xmin, ymin, xmax, ymax)`` in µm to render; the cells' total bounds when omitted.
    membrane
        Also render a membrane channel outlining each cell.
    interior
        Also render the RNA-like and protein-like interior stains (implies the membrane channel).
    rng
        Source of every random draw (derive it with ``stage_rng(seed, "image")``).

    Returns
    -------
    ``uint16`` array ``(n_channels, n_rows, n_cols)``: DAPI, then membrane and the interior
    stains when asked for. Row ``r``,
    column ``c`` is the pixel centred at ``(xmin + (c + ½)·p, ymin + (r + ½)·p)``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> cells = gpd.GeoDataFrame({"nucleus": [shapely.Point(10, 10).buffer(4)]},
    ...                          geometry=[shapely.Point(10, 10).buffer(7)])
    >>> img = render_morphology(cells, bounds=(0, 0, 20, 20), rng=np.random.default_rng(0))
    >>> img.shape, img.dtype, bool(img[0, 47, 47] > 4 * img[0, 2, 2])
    ((1, 95, 95), dtype('uint16'), True)
    """
    if bounds is None:
        bounds = tuple(shapely.total_bounds(np.asarray(cell_gdf.geometry.values)))
    grid = PixelGrid.from_bounds(bounds, pixel_size=pixel_size)
    nuclei = rasterize_labels(np.asarray(cell_gdf["nucleus"].values), grid)
    cells = rasterize_labels(np.asarray(cell_gdf.geometry.values), grid) if membrane or interior else None
    return render_from_labels(nuclei, cell_labels=cells, interior=interior, pixel_size=pixel_size, rng=rng)
