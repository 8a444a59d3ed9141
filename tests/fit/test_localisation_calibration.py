"""The presets' nuclear density ratio against the real MERFISH sample (tests/data/real/merfish_sample).

The ratio is the density of molecules over the nucleus's footprint over that over the rest of
the cell: per cell (f / s) / ((1 − f) / (1 − s)), f the share of its gene molecules that
overlap the nucleus and s the nucleus's share of its area. docs/model_molecules.md quotes the
figures this test recomputes.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from STpuppeteer.config import PRESETS

SAMPLE = Path(__file__).parents[1] / "data" / "real" / "merfish_sample"


@pytest.fixture(scope="module")
def per_cell():
    molecules = pd.read_parquet(SAMPLE / "molecules.parquet", columns=["gene", "cell_id", "overlaps_nucleus"])
    cells = pd.read_parquet(SAMPLE / "cells.parquet").dropna(subset=["nucleus_wkb"])
    share = pd.Series(shapely.area(shapely.from_wkb(cells["nucleus_wkb"].to_numpy()))
                      / shapely.area(shapely.from_wkb(cells["cell_wkb"].to_numpy())), index=cells["cell_id"])
    genes = molecules[~molecules["gene"].str.lower().str.startswith("notarget")]
    counts = genes.groupby("cell_id")["overlaps_nucleus"].agg(["sum", "count"]).loc[share.index]
    f = counts["sum"] / counts["count"]
    return pd.DataFrame({"share": share, "f": f, "ratio": (f / share) / ((1 - f) / (1 - share))})


def test_sample_ratio_is_what_the_docs_quote(per_cell):
    assert len(per_cell) == 13  # two of the 15 cells have no nucleus polygon
    log_ratio = np.log(per_cell["ratio"])
    assert per_cell["ratio"].min() == pytest.approx(0.72, abs=0.01)
    assert per_cell["ratio"].max() == pytest.approx(1.58, abs=0.01)
    assert np.exp(log_ratio.mean()) == pytest.approx(1.18, abs=0.01)
    assert log_ratio.std(ddof=1) / np.sqrt(len(log_ratio)) == pytest.approx(0.06, abs=0.01)


@pytest.mark.parametrize("preset", ["xenium", "merscope", "cosmx"])
def test_preset_ratio_lies_within_the_samples(per_cell, preset):
    ratio = PRESETS[preset]["transcripts"]["localisation"]["nuclear_density_ratio"]
    log_ratio = np.log(per_cell["ratio"])
    se = log_ratio.std(ddof=1) / np.sqrt(len(log_ratio))
    assert per_cell["ratio"].min() <= ratio <= per_cell["ratio"].max()
    assert abs(np.log(ratio) - log_ratio.mean()) <= 2 * se
