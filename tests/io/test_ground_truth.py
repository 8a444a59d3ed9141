"""The ``ground_truth/`` folder: written by every instrument writer, read back by the scorer.

``make_result`` builds a small self-consistent :class:`SimulationResult` by hand (hexagonal
cells with round nuclei, molecules in, leaked from and between cells, ambient molecules and
controls) so that the writers can be tested without running the simulation; the MERSCOPE
and CosMx tests import it from here.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from STpuppeteer.io.ground_truth import GROUND_TRUTH_DIR, GroundTruthFiles, read_ground_truth, write_ground_truth
from STpuppeteer.io.joins import PLATFORM_ID_COLUMNS
from STpuppeteer.result import SimulationResult
from synthetic_result import make_result


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)


@pytest.fixture
def result(rng: np.random.Generator) -> SimulationResult:
    return make_result(rng)


def test_builder_is_consistent(result: SimulationResult) -> None:
    trs = result.trs_df
    true = trs[trs["origin"].isin(["cell", "leaked"])]
    per_cell = true.groupby("cell_id").size()
    assert (per_cell.to_numpy() == result.count_array.sum(axis=1)).all()
    # Every kind of molecule is present, and some leaked molecules land in another cell.
    assert set(trs["origin"]) == {"cell", "leaked", "ambient", "control"}
    moved = true[(true["landed_cell_id"] >= 0) & (true["landed_cell_id"] != true["cell_id"])]
    assert len(moved) > 0
    assert (trs["landed_cell_id"] == -1).any()


def test_round_trip(result: SimulationResult, tmp_path) -> None:
    out = write_ground_truth(result, tmp_path)
    assert out == tmp_path / GROUND_TRUTH_DIR
    assert {p.name for p in out.iterdir()} == {
        GroundTruthFiles.MOLECULES,
        GroundTruthFiles.CELLS,
        GroundTruthFiles.COUNTS,
        GroundTruthFiles.GENES,
        GroundTruthFiles.README,
    }
    truth = read_ground_truth(tmp_path)
    pd.testing.assert_frame_equal(truth["trs_df"], result.trs_df)
    pd.testing.assert_frame_equal(truth["gpar_df"], result.gpar_df)
    np.testing.assert_array_equal(truth["count_array"], result.count_array)
    cells = truth["cell_gdf"]
    assert isinstance(cells, gpd.GeoDataFrame)
    assert (cells["cell_id"].to_numpy() == result.cell_gdf["cell_id"].to_numpy()).all()
    assert shapely.equals(cells.geometry.values, result.cell_gdf.geometry.values).all()
    assert shapely.equals(np.asarray(cells["nucleus"].values), np.asarray(result.cell_gdf["nucleus"].values)).all()
    # the platforms' ids of each cell come last, derived from cell_id (tests/io/test_joins.py)
    assert list(cells.columns[-len(PLATFORM_ID_COLUMNS):]) == list(PLATFORM_ID_COLUMNS)
    pd.testing.assert_frame_equal(
        pd.DataFrame(cells.drop(columns=["geometry", "nucleus", *PLATFORM_ID_COLUMNS])),
        pd.DataFrame(result.cell_gdf.drop(columns=["geometry", "nucleus"])),
    )
    assert truth["instrument_cells"] is None
    readme = (tmp_path / GROUND_TRUTH_DIR / GroundTruthFiles.README).read_text(encoding="utf-8")
    for name in (GroundTruthFiles.MOLECULES, GroundTruthFiles.CELLS, GroundTruthFiles.COUNTS, GroundTruthFiles.GENES):
        assert f"`{name}`" in readme


def test_read_accepts_the_ground_truth_folder_itself(result: SimulationResult, tmp_path) -> None:
    out = write_ground_truth(result, tmp_path)
    truth = read_ground_truth(out)
    np.testing.assert_array_equal(truth["count_array"], result.count_array)


def test_instrument_cells_are_written_and_described(result: SimulationResult, tmp_path) -> None:
    table = pd.DataFrame({"fov": [1, 1], "cell_ID": [1, 2], "cell_id": [5, 6]})
    write_ground_truth(result, tmp_path, instrument_cells=table, instrument_cells_note="Cut at FOV borders.")
    truth = read_ground_truth(tmp_path)
    pd.testing.assert_frame_equal(truth["instrument_cells"], table)
    readme = (tmp_path / GROUND_TRUTH_DIR / GroundTruthFiles.README).read_text(encoding="utf-8")
    assert GroundTruthFiles.INSTRUMENT_CELLS in readme
    assert "Cut at FOV borders." in readme


def test_errors(result: SimulationResult, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="existing folder"):
        write_ground_truth(result, tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="ground_truth folder"):
        read_ground_truth(tmp_path)
    bad = SimulationResult(result.config, result.gpar_df, result.cell_gdf, result.count_array[:, :3], result.trs_df)
    with pytest.raises(ValueError, match="count_array"):
        write_ground_truth(bad, tmp_path)
