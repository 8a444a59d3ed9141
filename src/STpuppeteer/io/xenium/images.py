"""The Xenium bundle's images: ``morphology_focus/`` OME-TIFFs and the pixel grid they share with the masks."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from STpuppeteer.geometry.raster import PixelGrid
from STpuppeteer.io.tiff import write_pyramid_tiff
from STpuppeteer.io.xenium import _constants as xc

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from STpuppeteer.result import SimulationResult

_F = xc.XeniumFiles

__all__ = ["write_morphology", "xenium_grid"]



def _ome_xml(
    shape: tuple[int, int], channel_names: tuple[str, ...], files: list[str], uuids: list[str], *, pixel_size: float
) -> str:
    """OME-XML of a multi-file OME-TIFF: one plane per channel, each in its own file."""
    from xml.sax.saxutils import quoteattr

    channels = "".join(
        f'<Channel ID="Channel:0:{i}" Name={quoteattr(name)} SamplesPerPixel="1"/>'
        for i, name in enumerate(channel_names)
    )
    planes = "".join(
        f'<TiffData FirstC="{i}" FirstT="0" FirstZ="0" IFD="0" PlaneCount="1">'
        f"<UUID FileName={quoteattr(file)}>{uuid}</UUID></TiffData>"
        for i, (file, uuid) in enumerate(zip(files, uuids, strict=True))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" '
        f'UUID="{uuids[0]}" Creator="STpuppeteer">'
        '<Image ID="Image:0" Name="morphology_focus">'
        f'<Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" SizeX="{shape[1]}" SizeY="{shape[0]}" '
        f'SizeC="{len(channel_names)}" SizeZ="1" SizeT="1" PhysicalSizeX="{pixel_size}" '
        f'PhysicalSizeXUnit="µm" PhysicalSizeY="{pixel_size}" PhysicalSizeYUnit="µm">'
        f"{channels}{planes}</Pixels></Image></OME>"
    )


def write_morphology(
    folder: Path,
    image: np.ndarray,
    channel_names: tuple[str, ...],
    *,
    rng: np.random.Generator,
    pixel_size: float = xc.PIXEL_SIZE,
    levels: int = 0,
) -> None:
    """``morphology_focus/``: one OME-TIFF per channel, as XOA 2.x writes them (Deflate, :mod:`STpuppeteer.io.tiff`).

    The first file's OME-XML describes every channel and names the file holding each plane
    (a multi-file OME-TIFF), so readers open all channels from ``morphology_focus_0000``; the
    others point back to it. ``levels`` sub-resolutions (each half the last) follow each full
    resolution as SubIFDs, as in Xenium's pyramidal files.
    """
    out = folder / _F.MORPHOLOGY_FOCUS_DIR
    out.mkdir()
    files = [_F.MORPHOLOGY_FOCUS_IMAGE.format(i) for i in range(len(channel_names))]
    uuids = [f"urn:uuid:{uuid.UUID(bytes=rng.bytes(16), version=4)}" for _ in files]
    xml = _ome_xml(image.shape[1:], channel_names, files, uuids, pixel_size=pixel_size)
    for i, (plane, file) in enumerate(zip(image, files, strict=True)):
        description = (
            xml
            if i == 0
            else (
                '<?xml version="1.0" encoding="UTF-8"?>'
                f'<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="{uuids[i]}">'
                f'<BinaryOnly MetadataFile="{files[0]}" UUID="{uuids[0]}"/></OME>'
            )
        )
        write_pyramid_tiff(
            out / file, plane, levels=levels, photometric="minisblack", description=description.encode(), metadata=None
        )


def xenium_grid(result: SimulationResult) -> PixelGrid:
    """The pixel grid of the bundle's image and masks: from the origin to the farthest cell or molecule.

    Its pixel size is the config's ``images.xenium_pixel_size_um`` (the instrument's 0.2125 µm by default).
    """
    points = result.trs_df[["x", "y"]].to_numpy()
    pixel_size = result.config.images.xenium_pixel_size_um
    return PixelGrid.from_origin(result.cell_gdf, points=points, pixel_size=pixel_size)
