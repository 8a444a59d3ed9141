"""The compiled camera pass gives the counts of its plain numpy form, every one."""

from __future__ import annotations

import numpy as np
import pytest

from STpuppeteer.stages.image_camera import camera_counts


def _plain(background: np.ndarray, blurred: np.ndarray, normals: np.ndarray, gain: float) -> np.ndarray:
    expected = np.multiply(background, np.float32(18.0))
    expected += np.float32(120.0)
    expected += blurred
    np.maximum(expected, 0, out=expected)
    sd = np.add(expected, np.float32(16.0))
    np.sqrt(sd, out=sd)
    value = normals * sd
    value += expected
    value *= np.float32(1.0 / gain)
    np.rint(value, out=value)
    np.clip(value, 0, np.iinfo(np.uint16).max, out=value)
    return value.astype(np.uint16)


@pytest.mark.parametrize("gain", [0.25, 1.0, 3.0, 4.0, 16.0])
def test_counts_equal_the_numpy_form(gain: float) -> None:
    rng = np.random.default_rng(int(gain * 4))
    shape = (64, 517)
    background = rng.standard_normal(shape, dtype=np.float32)
    # Negative expected photons (floored at 0) and counts above 65,535 at gain 0.25 (clipped) included.
    blurred = (rng.gamma(0.5, 20_000.0, shape) - 300.0).astype(np.float32)
    normals = rng.standard_normal(shape, dtype=np.float32)
    out = np.empty(shape, np.uint16)
    camera_counts(background, blurred, normals, out, background_scale=18.0, background_level=120.0,
                  read_variance=16.0, photons_per_count=gain)
    expected = _plain(background, blurred, normals, gain)
    assert np.array_equal(out, expected)
    assert (expected == 0).any()
    if gain == 0.25:
        assert (expected == np.iinfo(np.uint16).max).any()
