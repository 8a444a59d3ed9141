import numpy as np
import pytest

from STpuppeteer.simulation import SimulationConfig, simulate
from STpuppeteer.summary import format_summary, molecules_per_landed_cell, summarize


@pytest.fixture(scope="module")
def result():
    return simulate(SimulationConfig.from_preset("xenium", seed=5, n_cells=300))


def test_per_cell_counts_agree_with_the_observed_counts(result):
    observed = result.to_anndata().X
    assert np.array_equal(molecules_per_landed_cell(result), np.asarray(observed.sum(axis=1)).ravel())


def test_summary_figures(result):
    s = summarize(result)
    origin = result.trs_df["origin"].to_numpy()
    assert s["cells"] == 300 and s["molecules"] == len(origin)
    assert s["pct_leaked"] == pytest.approx(100 * np.mean(origin == "leaked"))
    assert s["pct_leaked"] + s["pct_ambient"] + s["pct_control"] < 100
    assert s["cells_per_mm2"] == pytest.approx(result.config.tissue.density_per_mm2, rel=0.15)
    text = format_summary(s, files=["a/b"])
    assert "median molecules per cell" in text and "a/b" in text
