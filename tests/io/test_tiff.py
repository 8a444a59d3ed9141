"""The writers' TIFFs: Deflate with the horizontal predictor, readable without ``imagecodecs``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tifffile

from STpuppeteer.io.tiff import write_pyramid_tiff, write_tiff


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32])
def test_tiffs_use_deflate_with_horizontal_differencing_and_read_back_exactly(tmp_path, rng, dtype):
    image = rng.integers(0, 5000, size=(130, 170)).astype(dtype)
    write_tiff(tmp_path / "flat.tif", image)
    write_pyramid_tiff(tmp_path / "pyramid.tif", image, levels=2, photometric="minisblack")
    for name in ("flat.tif", "pyramid.tif"):
        with tifffile.TiffFile(tmp_path / name) as tif:
            pages = [tif.pages[0], *tif.pages[0].pages] if name == "pyramid.tif" else [tif.pages[0]]
            assert [(p.compression, p.predictor) for p in pages] == [(8, 2)] * len(pages)  # ADOBE_DEFLATE, HORIZONTAL
            np.testing.assert_array_equal(tif.pages[0].asarray(), image)


def test_tiffs_decode_without_imagecodecs(tmp_path, rng):
    # imagecodecs is installed here (spatialdata-io needs it), so a fresh interpreter hides it:
    # Predictor 2 with Deflate is baseline TIFF, which tifffile decodes with numpy and zlib alone.
    image = rng.integers(0, 60000, size=(64, 90)).astype(np.uint16)
    write_pyramid_tiff(tmp_path / "image.tif", image, levels=1, photometric="minisblack")
    np.save(tmp_path / "image.npy", image)
    code = (
        "import sys; sys.modules['imagecodecs'] = None\n"
        "import numpy as np, tifffile\n"
        f"folder = {str(tmp_path)!r}\n"
        "with tifffile.TiffFile(folder + '/image.tif') as tif:\n"
        "    assert tif.pages[0].predictor == 2\n"
        "    np.testing.assert_array_equal(tif.pages[0].asarray(), np.load(folder + '/image.npy'))\n"
        "    assert tif.pages[0].pages[0].asarray().shape == (32, 45)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
