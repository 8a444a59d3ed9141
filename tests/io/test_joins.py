"""An instrument's cells join to the ground truth with the documented API (``truth_cell_id``, the id columns)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely

from STpuppeteer.io import decode_cell_ids, read_ground_truth, truth_cell_id
from STpuppeteer.io.ground_truth import GROUND_TRUTH_DIR, GroundTruthFiles
from STpuppeteer.io.joins import PLATFORM_ID_COLUMNS
from STpuppeteer.io.xenium._constants import QV_THRESHOLD

pytestmark = pytest.mark.filterwarnings("ignore")  # spatialdata_io's readers warn about their own calls


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from STpuppeteer.cli import main

    out = tmp_path_factory.mktemp("joins") / "run"
    main(["simulate", "--preset", "xenium", "--n-cells", "150", "--out", str(out),
          "--format", "xenium,merscope,cosmx", "--quiet"])
    return out


@pytest.fixture(scope="module")
def truth(run):
    return read_ground_truth(run)


def _true_landed_counts(truth: dict, *, xenium: bool) -> pd.Series:
    """Molecules per true cell by the cell they landed in (what a perfect segmentation counts).

    Xenium's ``transcript_counts`` counts gene molecules of ``qv`` >= 20 only.
    """
    trs = truth["trs_df"]
    if xenium:
        trs = trs[(trs["origin"] != "control") & (trs["qv"] >= QV_THRESHOLD)]
    landed = trs["landed_cell_id"]
    return landed[landed >= 0].value_counts()


def _check(true_id: np.ndarray, n_molecules: np.ndarray, truth: dict, *, uncut: np.ndarray | None = None,
           xenium: bool = False) -> None:
    cells = truth["cell_gdf"]
    assert (true_id >= 0).all()
    assert np.isin(true_id, cells["cell_id"]).all()  # each instrument cell is exactly one true cell
    expected = _true_landed_counts(truth, xenium=xenium).reindex(true_id, fill_value=0).to_numpy()
    keep = np.ones(len(true_id), dtype=bool) if uncut is None else uncut
    np.testing.assert_array_equal(n_molecules[keep], expected[keep])


def test_truth_cells_carry_each_platforms_id(run, truth) -> None:
    cells = truth["cell_gdf"]
    import pyarrow.parquet as pq

    assert set(PLATFORM_ID_COLUMNS) <= set(pq.read_schema(run / GROUND_TRUTH_DIR / GroundTruthFiles.CELLS).names)
    np.testing.assert_array_equal(decode_cell_ids(cells["xenium_cell_id"].to_numpy()), cells["cell_id"])
    np.testing.assert_array_equal(cells["merscope_cell_id"], cells["cell_id"])
    readme = (run / GROUND_TRUTH_DIR / GroundTruthFiles.README).read_text(encoding="utf-8")
    assert "## Joining your results to the truth" in readme


def test_xenium_cells_join(run, truth) -> None:
    xe = pd.read_parquet(run / "xenium" / "cells.parquet")
    true_id = truth_cell_id(xe["cell_id"], platform="xenium")
    _check(true_id, xe["transcript_counts"].to_numpy(), truth, xenium=True)
    by_column = xe.merge(truth["cell_gdf"], left_on="cell_id", right_on="xenium_cell_id", suffixes=("", "_true"))
    assert len(by_column) == len(xe)
    np.testing.assert_array_equal(by_column["cell_id_true"], true_id)
    tx = pd.read_parquet(run / "xenium" / "transcripts.parquet", columns=["transcript_id", "cell_id"])
    landed = truth["trs_df"].set_index("transcript_id")["landed_cell_id"].reindex(tx["transcript_id"])
    np.testing.assert_array_equal(truth_cell_id(tx["cell_id"], platform="xenium"), landed.to_numpy())


def test_merscope_cells_join(run, truth) -> None:
    meta = pd.read_csv(run / "merscope" / "cell_metadata.csv")
    true_id = truth_cell_id(meta["EntityID"], platform="merscope")
    _check(true_id, meta["transcript_count"].to_numpy(), truth)
    joined = meta.merge(truth["cell_gdf"], left_on="EntityID", right_on="merscope_cell_id")
    assert len(joined) == len(meta)


def test_cosmx_cells_join(run) -> None:
    truth = read_ground_truth(run / "cosmx")
    pieces = truth["instrument_cells"]
    meta = next((run / "cosmx").glob("*_metadata_file.csv"))
    meta = pd.read_csv(meta)
    true_id = truth_cell_id(meta["cell"], platform="cosmx", instrument_cells=pieces)
    # A cell not cut by a FOV border has its true area (rounded to whole pixels).
    pixel_um = json.loads((run / "cosmx" / "manifest.json").read_text())["pixel_size_um"]
    cells = truth["cell_gdf"].set_index("cell_id")
    true_area_px = shapely.area(cells.geometry.reindex(true_id).to_numpy()) / pixel_um**2
    uncut = np.abs(meta["Area"].to_numpy() - true_area_px) <= 1
    assert not pd.Series(true_id[uncut]).duplicated().any()
    _check(true_id, meta["nCount_RNA"].to_numpy(), truth, uncut=uncut)
    assert uncut.sum() > 0.5 * len(meta)
    tx = pd.read_csv(next((run / "cosmx").glob("*_tx_file.csv")), usecols=["cell", "cell_ID"])
    tx_true = truth_cell_id(tx["cell"], platform="cosmx", instrument_cells=pieces)
    np.testing.assert_array_equal(tx_true < 0, tx["cell_ID"].to_numpy() == 0)


def test_spatialdata_io_tables_join(run, truth) -> None:
    spatialdata_io = pytest.importorskip("spatialdata_io")
    xe = spatialdata_io.xenium(run / "xenium", cells_labels=False, nucleus_labels=False, morphology_focus=False,
                               morphology_mip=False, aligned_images=False, cells_as_circles=False)
    obs = xe.tables["table"].obs
    assert np.isin(truth_cell_id(obs["cell_id"].astype(str), platform="xenium"), truth["cell_gdf"]["cell_id"]).all()
    me = spatialdata_io.merscope(run / "merscope", mosaic_images=False)
    obs = me.tables["table"].obs
    assert np.isin(truth_cell_id(obs["EntityID"], platform="merscope"), truth["cell_gdf"]["cell_id"]).all()


def test_truth_cell_id_errors() -> None:
    with pytest.raises(ValueError, match="platform='visium'"):
        truth_cell_id(["a"], platform="visium")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="instrument_cells"):
        truth_cell_id(["c_1_1_1"], platform="cosmx")
    pieces = pd.DataFrame({"cell": ["c_1_1_1"], "cell_id": [3]})
    with pytest.raises(ValueError, match="c_1_9_2"):
        truth_cell_id(["c_1_9_2"], platform="cosmx", instrument_cells=pieces)
    with pytest.raises(ValueError, match="MERSCOPE"):
        truth_cell_id(["x"], platform="merscope")
    with pytest.raises(ValueError, match="malformed"):
        truth_cell_id(["zzzzzzzz-1"], platform="xenium")


def test_documented_examples_run(run, monkeypatch) -> None:
    import re
    from pathlib import Path

    from STpuppeteer.io.joins import JOIN_README

    contract = (Path(__file__).parents[2] / "docs" / "data_contract.md").read_text(encoding="utf-8")
    section = contract[contract.index("## Joining your results to the truth"):]
    monkeypatch.chdir(run.parent)  # the examples read "run/..."
    for text in (JOIN_README, section):
        code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
        scope: dict = {}
        exec(code, scope)  # noqa: S102
        assert (scope["cx"]["true_cell_id"] >= 0).all()
