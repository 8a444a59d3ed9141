"""plot_overview and plot_qc: every panel titled and labelled, outlines and the zoom box visible."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from STpuppeteer.plotting.contrast import contrast_ratio
from STpuppeteer.plotting.overview import plot_overview, plot_qc
from STpuppeteer.simulation import SimulationConfig, simulate


@pytest.fixture(scope="module")
def result():
    return simulate(SimulationConfig.from_preset("xenium", seed=3, n_cells=150))


def test_every_panel_is_titled_and_labelled_with_units(result, figure_problems):
    for fig in (plot_overview(result), plot_qc(result)):
        assert figure_problems(fig) == []
        assert len(fig.axes) >= 3
    plt.close("all")


def test_marker_panel_outlines_and_zoom_box_stand_out(result):
    fig = plot_overview(result)
    ax_t, ax_g, _ = fig.axes
    background = ax_g.get_facecolor()
    outlines = [c for c in ax_g.collections if isinstance(c, PolyCollection) and c.get_label() == "cell outlines"]
    assert len(outlines) == 1
    for edge in outlines[0].get_edgecolor():
        assert contrast_ratio(edge, background) >= 3
    for ax in (ax_t, ax_g):
        (box,) = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_label() == "zoom window"]
        halo_color = box.get_path_effects()[0]._gc["foreground"]
        # The line is seen on the dark panel, its halo on the light one (and each against the other).
        assert contrast_ratio(box.get_edgecolor(), background) >= 3
        assert contrast_ratio(halo_color, ax_t.get_facecolor()) >= 3
        assert contrast_ratio(box.get_edgecolor(), halo_color) >= 3
    plt.close("all")
