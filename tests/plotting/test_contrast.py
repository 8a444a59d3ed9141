"""WCAG contrast ratios: the known end points, symmetry, and translucent colours seen as blended."""

from __future__ import annotations

import pytest

from STpuppeteer.plotting.contrast import contrast_ratio, relative_luminance


def test_end_points_and_symmetry():
    assert contrast_ratio("white", "black") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    assert contrast_ratio("#ae3918", "white") == pytest.approx(contrast_ratio("white", "#ae3918"))
    # WCAG's own example value: mid grey #767676 on white is just above 4.5.
    assert contrast_ratio("#767676", "white") == pytest.approx(4.54, abs=0.01)
    assert relative_luminance("#ff0000") == pytest.approx(0.2126)


def test_translucent_line_is_blended_over_its_background():
    assert contrast_ratio((1, 1, 1, 0.0), "black") == pytest.approx(1.0)
    assert contrast_ratio((1, 1, 1, 0.5), "black") < contrast_ratio("white", "black")
