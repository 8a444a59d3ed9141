"""The smallest legal runs go through every writer, and their bundles open in the real readers."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import spatialdata_io

from STpuppeteer import simulate, simulate_to_xenium
from STpuppeteer.config import SimulationConfig
from STpuppeteer.io import write_cosmx, write_h5ad, write_merscope, write_spatialdata, write_xenium
from STpuppeteer.io.tables import PLACEHOLDER_FEATURE

pytestmark = pytest.mark.filterwarnings(
    "ignore:The dtype argument is deprecated:FutureWarning",  # spatialdata_io.merscope passes it itself
)

# 10⁻⁶ of the default expression: 20 cells × ~72 molecules × 10⁻⁶, no molecule at all
NO_MOLECULES = SimulationConfig(n_cells=20, expression_scale=1e-6)


@pytest.fixture(scope="module")
def empty():
    result = simulate(NO_MOLECULES)
    assert len(result.trs_df) == 0
    return result


def _xenium_molecules(sdata) -> list[str]:
    return sdata.points["transcripts"].compute()["feature_name"].astype(str).tolist()


def test_a_run_without_molecules_writes_a_xenium_bundle_the_reader_opens(empty, tmp_path):
    out = write_xenium(empty, tmp_path / "xenium")
    sdata = spatialdata_io.xenium(out)
    # one placeholder row, which no count includes, because the reader cannot read an empty table
    assert _xenium_molecules(sdata) == [PLACEHOLDER_FEATURE]
    assert sdata.tables["table"].X.sum() == 0
    assert json.loads((out / "manifest.json").read_text())["placeholder_transcript"] is True
    assert len(pd.read_parquet(out / "ground_truth" / "molecules.parquet")) == 0  # the truth has no molecule


@pytest.mark.filterwarnings("ignore:The table is annotating 'cell_labels':UserWarning")  # read without labels
def test_a_streamed_run_without_molecules_writes_a_bundle_the_reader_opens(tmp_path):
    out = simulate_to_xenium(NO_MOLECULES, tmp_path / "streamed", images=False)
    sdata = spatialdata_io.xenium(out, morphology_focus=False, cells_labels=False, nucleus_labels=False)
    assert _xenium_molecules(sdata) == [PLACEHOLDER_FEATURE]
    assert json.loads((out / "manifest.json").read_text())["placeholder_transcript"] is True


def test_a_run_without_molecules_writes_a_merscope_region_the_reader_opens(empty, tmp_path):
    (tmp_path / "run").mkdir()
    out = write_merscope(empty, tmp_path / "run" / "region_0", mosaic_images=False)
    sdata = spatialdata_io.merscope(out, mosaic_images=False)
    points = sdata.points["run_region_0_transcripts"].compute()
    assert len(points) == 1 and (points["cell_id"] == -1).all()
    assert sdata.tables["table"].X.sum() == 0


@pytest.mark.parametrize("n_cells", [1, 2, 3])
def test_one_two_and_three_cells_go_through_every_writer(n_cells, tmp_path):
    result = simulate(SimulationConfig(seed=3, n_cells=n_cells))  # seed 3, 2 cells: once a 0/0 size factor
    assert np.isfinite(result.cell_gdf["scale"]).all() and len(result.trs_df) > 0
    write_xenium(result, tmp_path / "xenium")
    write_merscope(result, tmp_path / "merscope", mosaic_images=False)
    write_spatialdata(result, tmp_path / "sim.zarr")
    assert ad.read_h5ad(write_h5ad(result, tmp_path / "sim.h5ad")).n_obs == n_cells
    if n_cells >= 3:
        out = write_cosmx(result, tmp_path / "cosmx", composite_images=False)
        assert spatialdata_io.cosmx(out).tables["table"].n_obs == n_cells
    else:  # the reader places each field of view from its cells, and needs three
        with pytest.raises(ValueError, match=r"CosMx format: .* at least 3 cells \(n_cells\)"):
            write_cosmx(result, tmp_path / "cosmx", composite_images=False)
    if n_cells == 1:
        assert spatialdata_io.xenium(tmp_path / "xenium").tables["table"].n_obs == 1
