"""Configuration of the rendered images: pixel size per format and the pyramid of the SpatialData store.

Owned by the writers (:mod:`STpuppeteer.io`) and :mod:`STpuppeteer.stages.image`. Every image
covers the data's bounding box; its pixel count, and so the time to render it and its size on
disk, grows with the inverse square of the pixel size. The defaults keep Xenium's own pixel
(the bundle other tools compare against) and bin the other stains to about half a µm, enough to
see and segment every nucleus (cells here are 5 to 15 µm across); ``docs/scale.md`` gives the
figures.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from STpuppeteer.config._base import Int, Real, StrictModel

__all__ = [
    "COSMX_CAMERA_PIXEL_UM",
    "DEFAULT_PHOTONS_PER_COUNT",
    "MERSCOPE_CAMERA_PIXEL_UM",
    "XENIUM_CAMERA_PIXEL_UM",
    "ImageConfig",
    "XeniumStains",
]

#: The channels of Xenium's ``morphology_focus/``: DAPI alone, or the four stains of the multimodal
#: cell-segmentation kit (DAPI, boundary, interior RNA, interior protein; XOA 2.0 and later).
XeniumStains = Literal["dapi", "multimodal"]

#: µm per pixel of each instrument's camera (its images' finest resolution).
XENIUM_CAMERA_PIXEL_UM = 0.2125
MERSCOPE_CAMERA_PIXEL_UM = 0.108
COSMX_CAMERA_PIXEL_UM = 0.12028

#: Photons per stored count of the 16-bit stains by default. Rounding to steps of g photons adds g²/12
#: photons² to a pixel's noise variance: 1.3 at g = 4, under 2 % of the darkest background's
#: (66 photons of autofluorescence at its lowest plus the read noise's 16, about 80 photons²).
DEFAULT_PHOTONS_PER_COUNT = 4.0

_PIXEL = "; 0.05 to 10 µm (below optics' resolution; above half a cell); half the size, four times the pixels"


class ImageConfig(StrictModel):
    """Resolution of the rendered morphology images and label rasters, per output format, and the camera's gain."""

    xenium_pixel_size_um: Real = Field(
        XENIUM_CAMERA_PIXEL_UM,
        ge=0.05,
        le=10,
        description=f"µm per pixel of Xenium's morphology image and cell/nucleus masks (instrument: "
        f"{XENIUM_CAMERA_PIXEL_UM}; experiment.xenium records it)" + _PIXEL,
    )
    xenium_stains: XeniumStains = Field(
        "dapi",
        description="channels of Xenium's morphology_focus/: 'dapi' (one file, as without the segmentation kit) "
        "or 'multimodal' (four files: DAPI, the ATP1A1/CD45/E-Cadherin boundary stain, the 18S interior RNA "
        "stain, the AlphaSMA/Vimentin interior protein stain, as XOA 2.x writes with the cell-segmentation kit; "
        "the Xenium presets' choice; each extra stain costs about 2 CPU s and 26 MB per 3,000 cells)",
    )
    xenium_pyramid_levels: Int = Field(
        0,
        ge=0,
        le=8,
        description="sub-resolutions (each half the last, as SubIFDs) below the full resolution of each "
        "morphology_focus/ file, as Xenium's pyramidal OME-TIFFs hold; 0 to 8 (0: the full resolution alone, "
        "which is all spatialdata_io.xenium reads: it builds its own pyramid)",
    )
    merscope_pixel_size_um: Real = Field(
        4 * MERSCOPE_CAMERA_PIXEL_UM,
        ge=0.05,
        le=10,
        description=f"µm per pixel of MERSCOPE's mosaic images (instrument: {MERSCOPE_CAMERA_PIXEL_UM}; default its "
        "camera binned 4 × 4); the micron-to-mosaic transform records it, transcripts keep camera pixels" + _PIXEL,
    )
    cosmx_composite_binning: Int = Field(
        4,
        ge=1,
        le=16,
        description=f"CosMx composite images are rendered at this many camera pixels ({COSMX_CAMERA_PIXEL_UM} µm) "
        "per side and stored at the camera's resolution (the reader aligns them with the label rasters, which "
        "are always at camera resolution); 1 to 16 (1: render every camera pixel)",
    )
    spatialdata_pixel_size_um: Real = Field(
        2 * XENIUM_CAMERA_PIXEL_UM,
        ge=0.05,
        le=10,
        description="µm per pixel of the SpatialData store's image and label rasters (its shapes are the exact "
        "polygons)" + _PIXEL,
    )
    spatialdata_pyramid_levels: Int | None = Field(
        None,
        ge=0,
        le=8,
        description="downsampled levels (each half the last) below the SpatialData rasters' full resolution; 0 to "
        "8; None: three when a raster is 4,096 pixels or wider, else none",
    )
    photons_per_count: Real = Field(
        DEFAULT_PHOTONS_PER_COUNT,
        ge=0.25,
        le=16,
        description="photons per stored count of the 16-bit stains (Xenium's morphology_focus/, MERSCOPE's mosaics, "
        "the SpatialData image): the camera's gain. The stains are drawn in photons with their shot and read noise, "
        "then divided by this and rounded, so it sets how finely the noise is stored, not how noisy the image is: "
        "4 adds under 2 % to the noise variance of the darkest background and stores the noise in about 2 bits a "
        "pixel fewer than 1 (photon counts); 0.25 to 16 (at 16 the rounding adds a quarter to that variance)",
    )
