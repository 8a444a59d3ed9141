"""plot_tissue: colours by type, nuclei, scale bar; works on subsets."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from STpuppeteer._random import stage_rng
from STpuppeteer.config import SimulationConfig
from STpuppeteer.plotting.palette import celltype_palette
from STpuppeteer.plotting.tissue import plot_tissue
from STpuppeteer.stages.tissue import generate_cells


@pytest.fixture(scope="module")
def cell_gdf():
    return generate_cells(SimulationConfig(n_cells=400, n_celltype=3), stage_rng(0, "cells"))


def test_draws_cells_nuclei_and_scale_bar(cell_gdf, figure_problems):
    fig, ax = plt.subplots()
    out = plot_tissue(cell_gdf, ax=ax, scale_bar_um=50)
    assert out is ax
    collections = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(collections) == 2
    assert len(collections[0].get_paths()) == len(cell_gdf)
    palette = celltype_palette(3)
    expected = matplotlib.colors.to_rgba_array([palette[t] for t in cell_gdf["celltype"]])
    np.testing.assert_allclose(collections[0].get_facecolors()[:, :3], expected[:, :3])
    bars = [a for a in ax.artists if isinstance(a, AnchoredSizeBar)]
    assert len(bars) == 1
    assert bars[0].txt_label.get_text() == "50 µm"
    x0, y0, x1, y1 = cell_gdf.total_bounds
    assert ax.get_xlim()[0] <= x0 and ax.get_xlim()[1] >= x1
    assert ax.get_title() == "400 cells by type"
    assert figure_problems(fig) == []
    plt.close(fig)


def test_subset_keeps_type_colours(cell_gdf):
    subset = cell_gdf[cell_gdf["celltype"] == "ct_2"]
    ax = plot_tissue(subset, show_nuclei=False, legend=False, title="ct_2 only")
    assert ax.get_title() == "ct_2 only"
    collections = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(collections) == 1
    np.testing.assert_allclose(
        collections[0].get_facecolors()[0, :3], matplotlib.colors.to_rgb(celltype_palette(3)["ct_2"])
    )
    plt.close(ax.figure)


def test_large_tissues_are_rasterised(cell_gdf):
    ax = plot_tissue(cell_gdf, rasterize_above=100)
    assert all(c.get_rasterized() for c in ax.collections)
    plt.close(ax.figure)
