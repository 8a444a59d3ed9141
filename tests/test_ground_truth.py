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

from STpuppeteer.config import SimulationConfig
from STpuppeteer.io.ground_truth import GROUND_TRUTH_DIR, GroundTruthFiles, read_ground_truth, write_ground_truth
from STpuppeteer.result import SimulationResult
from STpuppeteer.stages.genes import generate_gene_parameters

CONTROL_NAMES = ["NegControlProbe_00001", "NegControlProbe_00002", "NegControlCodeword_0500", "UnassignedCodeword_0001"]


def _hexagon(cx: float, cy: float, radius: float) -> shapely.Polygon:
    angles = np.deg2rad(np.arange(0, 360, 60) + 30)
    return shapely.Polygon(np.c_[cx + radius * np.cos(angles), cy + radius * np.sin(angles)])


def make_result(
    rng: np.random.Generator,
    *,
    n_rows: int = 5,
    n_cols: int = 6,
    radius: float = 6.0,
    origin: tuple[float, float] = (30.0, 40.0),
    n_ambient: int = 40,
    n_control: int = 25,
) -> SimulationResult:
    """A small hand-built result: a honeycomb of cells, molecules with their full truth."""
    dx = radius * np.sqrt(3)
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    cx = origin[0] + dx * (cols + 0.5 * (rows % 2))
    cy = origin[1] + 1.5 * radius * rows
    n_cells = len(cx)
    cells = [_hexagon(x, y, radius * 0.98) for x, y in zip(cx, cy, strict=True)]
    nuclei = shapely.buffer(shapely.points(cx, cy), radius * 0.4)
    celltype = np.array(["ct_0", "ct_1"])[rows % 2]
    config = SimulationConfig(seed=7, n_cells=n_cells, n_genes=8, n_celltype=2, n_markers=2)
    gpar_df = generate_gene_parameters(config, np.random.default_rng(config.seed))
    cell_gdf = gpd.GeoDataFrame(
        {
            "cell_id": np.arange(n_cells, dtype=np.int64) + 1,
            "celltype": pd.Categorical(celltype),
            "x": cx,
            "y": cy,
            "z": rng.uniform(2, 8, n_cells),
            "nucleus_area": shapely.area(nuclei),
            "cell_area": shapely.area(np.array(cells)),
            "scale": rng.uniform(0.8, 1.2, n_cells),
            "leakage_percentage": np.full(n_cells, 0.2),
            "nucleus": gpd.GeoSeries(nuclei),
        },
        geometry=cells,
    )
    count_array = rng.poisson(4.0, (n_cells, len(gpar_df)))

    # True molecules: uniform in a disc inside the hexagon; a fifth leak up to 8 µm outward.
    src_row, gene = np.nonzero(count_array)
    reps = count_array[src_row, gene]
    src_row, gene = np.repeat(src_row, reps), np.repeat(gene, reps)
    n_true = len(src_row)
    r = 0.8 * radius * np.sqrt(rng.uniform(size=n_true))
    phi = rng.uniform(0, 2 * np.pi, n_true)
    leaked = rng.uniform(size=n_true) < 0.2
    r = np.where(leaked, radius + rng.uniform(0, 8, n_true), r)
    x_true, y_true = cx[src_row] + r * np.cos(phi), cy[src_row] + r * np.sin(phi)
    xmin, ymin, xmax, ymax = shapely.total_bounds(np.array(cells))
    n_bg = n_ambient + n_control
    x = np.r_[x_true, rng.uniform(xmin - 5, xmax + 5, n_bg)]
    y = np.r_[y_true, rng.uniform(ymin - 5, ymax + 5, n_bg)]
    names = np.r_[
        gpar_df["feature_name"].to_numpy()[gene],
        rng.choice(gpar_df["feature_name"].to_numpy(), n_ambient),
        rng.choice(CONTROL_NAMES, n_control),
    ]
    source = np.r_[cell_gdf["cell_id"].to_numpy()[src_row], np.full(n_bg, -1)]
    origin_label = np.r_[np.where(leaked, "leaked", "cell"), ["ambient"] * n_ambient, ["control"] * n_control]
    src_type = np.r_[celltype[src_row], [None] * n_bg]

    points = shapely.points(x, y)
    landed = np.full(len(x), -1, dtype=np.int64)
    pt, poly = shapely.STRtree(cells).query(points, predicate="within")
    landed[pt] = cell_gdf["cell_id"].to_numpy()[poly]
    in_nucleus = np.zeros(len(x), dtype=bool)
    pt, poly = shapely.STRtree(nuclei).query(points, predicate="within")
    in_nucleus[pt] = True
    compartment = np.where(in_nucleus, "nucleus", np.where(landed >= 0, "cytoplasm", "extracellular"))
    trs_df = pd.DataFrame(
        {
            "transcript_id": np.arange(len(x), dtype=np.int64) + 1000,
            "x": x,
            "y": y,
            "z": rng.uniform(0, 10, len(x)),
            "feature_name": pd.Categorical(names),
            "cell_id": source,
            "celltype": pd.Categorical(src_type, categories=["ct_0", "ct_1"]),
            "origin": pd.Categorical(origin_label, categories=["cell", "leaked", "ambient", "control"]),
            "landed_cell_id": landed,
            "compartment": pd.Categorical(compartment),
            "overlaps_nucleus": in_nucleus,
            "qv": rng.normal(35, 4, len(x)).clip(0, 40),
        }
    )
    return SimulationResult(config, gpar_df, cell_gdf, count_array, trs_df)


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
    pd.testing.assert_frame_equal(
        pd.DataFrame(cells.drop(columns=["geometry", "nucleus"])),
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
