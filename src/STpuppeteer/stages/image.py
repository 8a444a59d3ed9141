"""Morphology images rendered from the true cells: a DAPI-like nuclear stain and the segmentation stains.

The image is what a segmenter would see: each nucleus a bright blob with its own
brightness and a chromatin texture, blurred by the optics, on a background with slowly
varying autofluorescence (the tissue's, shared by every stain), with Poisson shot noise and
camera read noise on top. The optional boundary (membrane) stain draws a rim on each side
of every cell border, its brightness varying between cells and in patches along the rim;
the optional interior stains of Xenium's segmentation kit fill the cytoplasm (RNA, granular,
the nucleus dimmer) or a minority of cells (protein). DAPI draws from the generator it is
given, each other stain from a keyed child of it (``Block.IMAGE_*``), so adding a stain
changes no other. Pixel ``(row, col)`` covers
``[x0 + col·p, x0 + (col+1)·p) × [y0 + row·p, y0 + (row+1)·p)`` in µm, ``p`` the pixel size,
so ``x_µm / p`` is the pixel coordinate when the grid starts at the origin (as Xenium's does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy import ndimage

from STpuppeteer._random import Block, block_rng
from STpuppeteer.geometry.raster import PixelGrid, rasterize_labels
from STpuppeteer.stages.image_blur import gaussian_blur
from STpuppeteer.stages.image_camera import camera_counts
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
# Boundary stain (Xenium's ATP1A1/CD45/E-Cadherin; MERSCOPE's and CosMx's membrane stains): a rim on
# each side of every cell border, its brightness varying between cells (how much of the targets a
# cell carries) and in patches along the rim; the cell's interior holds a little (vesicles,
# membrane above and below the focal plane).
_MEMBRANE_PEAK = 700.0
_MEMBRANE_WIDTH_UM = 0.6
_MEMBRANE_BRIGHTNESS_SD = 0.5
_MEMBRANE_PATCH_SD = 0.4
_MEMBRANE_PATCH_UM = 1.0
_MEMBRANE_INSIDE = 0.08
_INTERIOR_RNA_PEAK = 500.0
_INTERIOR_RNA_NUCLEAR = 0.3  # relative RNA stain inside the nucleus
_INTERIOR_RNA_GRAIN = 0.5  # half-width of the uniform per-pixel grain (granules blurred by the optics)
_INTERIOR_PROTEIN_PEAK = 800.0
_INTERIOR_PROTEIN_POSITIVE = 0.3  # fraction of cells expressing the protein stain's targets
_INTERIOR_PROTEIN_NUCLEAR = 0.5  # relative protein stain inside the nucleus (cytoskeleton around it)
_INTERIOR_PROTEIN_PATCH_UM = 1.0
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


def _finish(
    signal: np.ndarray,
    rng: np.random.Generator,
    *,
    pixel_size: float,
    background: np.ndarray,
    photons_per_count: float = 1.0,
) -> np.ndarray:
    """Optics, background, shot and read noise: expected photons to a uint16 image.

    ``background`` is the tissue's autofluorescence (a unit-variance field), shared by every
    stain of one image. Shot noise (Poisson, variance = mean) plus read noise (normal) is drawn
    as one normal of variance mean + read noise²: the photon counts here are tens to thousands,
    where the Poisson is normal to within its skewness 1/√mean, and a float32 normal costs a
    small fraction of a Poisson draw. The camera then stores one count per ``photons_per_count``
    photons (its gain), rounded; 1 stores the photons themselves.
    """
    blurred = gaussian_blur(signal, _PSF_SIGMA_UM / pixel_size)
    out = np.empty(signal.shape, dtype=np.uint16)
    # Row bands: the normals of one band at a time, drawn in the order of the rows.
    band = max(1, UPSAMPLE_BAND_PIXELS // max(signal.shape[1], 1))
    for lo in range(0, signal.shape[0], band):
        rows = slice(lo, lo + band)
        normals = rng.standard_normal(out[rows].shape, dtype=np.float32)
        camera_counts(
            background[rows],
            blurred[rows],
            normals,
            out[rows],
            background_scale=_BACKGROUND * _AUTOFLUORESCENCE_CV,
            background_level=_BACKGROUND,
            read_variance=_READ_NOISE**2,
            photons_per_count=photons_per_count,
        )
    return out


def _per_cell(rng: np.random.Generator, n_labels: int, sd: float) -> np.ndarray:
    """Mean-one lognormal factor per label; 0 for the background label."""
    factor = rng.lognormal(-0.5 * sd**2, sd, size=n_labels + 1).astype(np.float32)
    factor[0] = 0.0
    return factor


def _patches(rng: np.random.Generator, shape: tuple[int, int], *, sd: float, scale_px: float) -> np.ndarray:
    """Mean-one multiplicative field varying over ``scale_px`` pixels, floored at 0.1.

    Coarse knots interpolated (:func:`low_frequency_noise`): a fifth of the cost of a
    filtered field, and the optics blur the knots' corners away.
    """
    field = low_frequency_noise(rng, shape, max(scale_px, 1.0))
    field *= np.float32(sd)
    field += np.float32(1)
    np.maximum(field, np.float32(0.1), out=field)
    return field


def _boundary_stain(cell_labels: np.ndarray, *, pixel_size: float, rng: np.random.Generator) -> np.ndarray:
    """Expected photons of the boundary (membrane) stain: bright rims, a dim interior."""
    n_cells = int(cell_labels.max(initial=0))
    brightness = _MEMBRANE_PEAK * _per_cell(rng, n_cells, _MEMBRANE_BRIGHTNESS_SD)
    edge = _boundary_mask(cell_labels)
    width_px = max(1, round(_MEMBRANE_WIDTH_UM / pixel_size / 2))
    if width_px > 1:
        edge = ndimage.binary_dilation(edge, iterations=width_px - 1)
        edge &= cell_labels > 0
    stain = brightness[cell_labels]
    stain *= np.where(edge, np.float32(1.0), np.float32(_MEMBRANE_INSIDE))
    stain *= _patches(rng, cell_labels.shape, sd=_MEMBRANE_PATCH_SD, scale_px=_MEMBRANE_PATCH_UM / pixel_size)
    return stain


def _rna_stain(
    nucleus_labels: np.ndarray, cell_labels: np.ndarray, *, pixel_size: float, rng: np.random.Generator
) -> np.ndarray:
    """Expected photons of the interior RNA stain (18S): the cytoplasm filled, granular, the nucleus dimmer."""
    del pixel_size  # the grain is a pixel's; the optics give it its size
    rna = _INTERIOR_RNA_PEAK * _per_cell(rng, int(cell_labels.max(initial=0)), 0.3)[cell_labels]
    rna *= np.where(nucleus_labels > 0, np.float32(_INTERIOR_RNA_NUCLEAR), np.float32(1.0))
    grain = rng.random(cell_labels.shape, dtype=np.float32)
    grain *= np.float32(2 * _INTERIOR_RNA_GRAIN)
    grain += np.float32(1 - _INTERIOR_RNA_GRAIN)
    rna *= grain
    return rna


def _protein_stain(
    nucleus_labels: np.ndarray, cell_labels: np.ndarray, *, pixel_size: float, rng: np.random.Generator
) -> np.ndarray:
    """Expected photons of the interior protein stain (αSMA/Vimentin): smooth, strong in a minority of cells."""
    n_cells = int(cell_labels.max(initial=0))
    positive = rng.uniform(size=n_cells + 1) < _INTERIOR_PROTEIN_POSITIVE
    level = np.where(positive, np.float32(1.0), np.float32(0.1)) * _per_cell(rng, n_cells, 0.4)
    protein = _INTERIOR_PROTEIN_PEAK * level.astype(np.float32)[cell_labels]
    protein *= np.where(nucleus_labels > 0, np.float32(_INTERIOR_PROTEIN_NUCLEAR), np.float32(1.0))
    protein *= _patches(rng, cell_labels.shape, sd=0.3, scale_px=_INTERIOR_PROTEIN_PATCH_UM / pixel_size)
    return protein


#: The interior stains of Xenium's segmentation kit, in channel order, and the stream of each.
_INTERIOR_STAINS = ((Block.IMAGE_INTERIOR_RNA, _rna_stain), (Block.IMAGE_INTERIOR_PROTEIN, _protein_stain))


def render_from_labels(
    nucleus_labels: np.ndarray,
    *,
    cell_labels: np.ndarray | None = None,
    interior: bool = False,
    pixel_size: float = XENIUM_PIXEL_SIZE,
    photons_per_count: float = 1.0,
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
    photons_per_count
        The camera's gain: photons per stored count (the writers pass the config's
        ``images.photons_per_count``); 1 stores photon counts. The noise is drawn in photons
        either way, so the gain changes the rounding, not the signal-to-noise ratio.
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
    if not (np.isfinite(photons_per_count) and photons_per_count > 0):
        msg = f"photons_per_count={photons_per_count!r}: the camera's gain must be a positive number of photons."
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
    # One autofluorescence for every stain: it is the tissue's, seen through each filter.
    background = low_frequency_noise(rng, shape, _AUTOFLUORESCENCE_SCALE_UM / pixel_size)
    finish = {"pixel_size": pixel_size, "background": background, "photons_per_count": photons_per_count}
    channels = [_finish(dapi, rng, **finish)]
    del dapi
    if cell_labels is not None:
        if cell_labels.shape != shape:
            msg = f"cell_labels has shape {cell_labels.shape}; it must match nucleus_labels {shape}."
            raise ValueError(msg)
        boundary_rng = block_rng(rng, Block.IMAGE_BOUNDARY)
        membrane = _boundary_stain(cell_labels, pixel_size=pixel_size, rng=boundary_rng)
        channels.append(_finish(membrane, boundary_rng, **finish))
        del membrane
    if interior:
        for key, stain_of in _INTERIOR_STAINS:
            # Each stain draws its signal, then its noise, from a stream of its own.
            stain_rng = block_rng(rng, key)
            stain = stain_of(nucleus_labels, cell_labels, pixel_size=pixel_size, rng=stain_rng)
            channels.append(_finish(stain, stain_rng, **finish))
            del stain
    return np.stack(channels)


def render_morphology(
    cell_gdf: gpd.GeoDataFrame,
    *,
    pixel_size: float = XENIUM_PIXEL_SIZE,
    bounds: tuple[float, float, float, float] | None = None,
    membrane: bool = False,
    interior: bool = False,
    photons_per_count: float = 1.0,
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
    photons_per_count
        Photons per stored count (the camera's gain; see :func:`render_from_labels`).
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
    return render_from_labels(
        nuclei,
        cell_labels=cells,
        interior=interior,
        pixel_size=pixel_size,
        photons_per_count=photons_per_count,
        rng=rng,
    )
