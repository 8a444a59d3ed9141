"""The CosMx-like folder, read back with the real ``spatialdata_io.cosmx``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from spatialdata.transformations import get_transformation
from spatialdata_io import cosmx

from STpuppeteer.config import SimulationConfig
from STpuppeteer.io import cosmx as cosmx_writer
from STpuppeteer.io._cosmx_constants import DATASET_ID, PIXEL_SIZE, CosmxFiles
from STpuppeteer.io.cosmx import FovLayout
from STpuppeteer.io.ground_truth import read_ground_truth
from STpuppeteer.io.manifest import MANIFEST_NAME
from STpuppeteer.result import SimulationResult
from STpuppeteer.simulation import SpotlessSimulator
from synthetic_result import make_result

# spatialdata_io.cosmx passes AnnData's deprecated ``dtype=`` itself; nothing we write changes that.
pytestmark = pytest.mark.filterwarnings("ignore:The dtype argument is deprecated:FutureWarning")

SMALL_FOV_PX = 600  # 72 µm: the synthetic tissue (~100 µm wide) needs two overlapping FOVs


@pytest.fixture(scope="module")
def synthetic() -> SimulationResult:
    return make_result(np.random.default_rng(13))


@pytest.fixture(scope="module")
def simulated() -> SimulationResult:
    config = SimulationConfig(
        seed=9,
        n_cells=300,
        leakage_by_celltype={"ct_0": 0.2, "ct_1": 0.1, "ct_2": 0.05},
        instrument={
            "ambient_rate_per_um2": 0.01,
            "neg_control_probe_rate_per_um2": 0.002,
            "neg_control_codeword_rate_per_um2": 0.002,
        },
    )
    return SpotlessSimulator(config).run()


def _renamed(result: SimulationResult) -> dict[str, str]:
    genes = result.gpar_df["feature_name"].astype(str).to_list()
    controls = sorted(set(result.trs_df["feature_name"].astype(str)) - set(genes))
    neg = [c for c in controls if c.startswith("NegControlProbe_")]
    other = [c for c in controls if not c.startswith("NegControlProbe_")]
    return (
        {g: g for g in genes}
        | {c: f"NegPrb{i + 1}" for i, c in enumerate(neg)}
        | {c: f"SystemControl{i + 1}" for i, c in enumerate(other)}
    )


def _check_folder(result: SimulationResult, path: Path, *, min_fovs: int, images: bool) -> None:
    sdata = cosmx(path)
    truth = read_ground_truth(path)
    pieces = truth["instrument_cells"]
    fovs = sorted(pieces["fov"].unique())
    assert len(fovs) >= min_fovs
    assert set(sdata.labels) == {f"{f}_labels" for f in fovs}
    assert set(sdata.images) == ({f"{f}_image" for f in fovs} if images else set())

    # Transcripts: every molecule once; local pixels, mapped by the reader's per-FOV affine,
    # are µm / pixel size.
    trs = result.trs_df.set_index("transcript_id")
    points = []
    for fov in fovs:
        element = sdata.points[f"{fov}_points"]
        frame = element.compute()
        affine = get_transformation(element, "global").to_affine_matrix(("x", "y"), ("x", "y"))
        xy = np.c_[frame["x"], frame["y"], np.ones(len(frame))] @ affine.T
        points.append(frame.assign(global_x=xy[:, 0], global_y=xy[:, 1]))
    points = pd.concat(points).set_index("transcript_id")
    assert len(points) == len(trs)
    points = points.loc[trs.index]
    # The files keep 0.01 pixel (1.2 nm); the reader's per-FOV affine, fitted to the cells' rounded
    # centres, moves a molecule by up to about as much again.
    np.testing.assert_allclose(points["global_x"] * PIXEL_SIZE, trs["x"], atol=2.5e-3)
    np.testing.assert_allclose(points["global_y"] * PIXEL_SIZE, trs["y"], atol=2.5e-3)
    assert (points["target"].astype(str).to_numpy() == trs["feature_name"].astype(str).map(_renamed(result))).all()

    # A molecule's instrument cell is the piece of the cell it landed in.
    key = pd.MultiIndex.from_frame(pieces[["fov", "cell_ID"]])
    hit = key.get_indexer(pd.MultiIndex.from_arrays([points["fov"], points["cell_ID"].astype(int)]))
    true_cell = np.where(hit >= 0, pieces["cell_id"].to_numpy()[hit], -1)
    np.testing.assert_array_equal(true_cell, trs["landed_cell_id"].to_numpy())
    assert ((points["cell_ID"].astype(int) == 0) == (trs["landed_cell_id"] < 0).to_numpy()).all()

    # Table: one row per piece; summed over a true cell's pieces, the counts are the molecules
    # that landed in it.
    table = sdata.tables["table"]
    assert table.n_obs == len(pieces)
    assert set(pieces["cell_id"]) == set(result.cell_gdf["cell_id"])
    obs_key = pd.MultiIndex.from_arrays([table.obs["fov"].astype(int), table.obs["cell_ID"]])
    row_cell = pieces["cell_id"].to_numpy()[key.get_indexer(obs_key)]
    per_cell = pd.DataFrame(table.X.toarray(), columns=table.var_names).groupby(row_cell).sum()
    landed = trs[trs["landed_cell_id"] >= 0]
    expected = pd.crosstab(landed["landed_cell_id"], landed["feature_name"].astype(str).map(_renamed(result)))
    expected = expected.reindex(index=per_cell.index, columns=per_cell.columns, fill_value=0)
    np.testing.assert_array_equal(per_cell.to_numpy(), expected.to_numpy())

    # Labels: after the reader's flip, the label under a molecule is its cell_ID (pixel
    # centres decide the raster, so a molecule within half a pixel of a border may differ).
    agree = []
    for fov in fovs:
        labels = sdata.labels[f"{fov}_labels"].to_numpy()
        assert set(np.unique(labels)) - {0} <= set(pieces.loc[pieces["fov"] == fov, "cell_ID"])
        mine = points[points["fov"] == fov]
        under = labels[mine["y"].astype(int), mine["x"].astype(int)]
        agree.append(under == mine["cell_ID"].astype(int).to_numpy())
    assert np.concatenate(agree).mean() > 0.97

    manifest = json.loads((path / MANIFEST_NAME).read_text())
    on_disk = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {MANIFEST_NAME}
    assert set(manifest["files"]) == on_disk
    assert manifest["format"] == "cosmx"
    np.testing.assert_array_equal(truth["count_array"], result.count_array)
    pd.testing.assert_frame_equal(truth["trs_df"], result.trs_df.reset_index(drop=True))


def test_synthetic_folder_is_read_back(synthetic: SimulationResult, tmp_path: Path) -> None:
    path = cosmx_writer.write_cosmx(synthetic, tmp_path / "cosmx", fov_size_px=SMALL_FOV_PX)
    _check_folder(synthetic, path, min_fovs=2, images=True)
    assert len(read_ground_truth(path)["instrument_cells"]["fov"].unique()) == 2
    # Two overlapping FOVs cut the cells along their shared border.
    pieces = read_ground_truth(path)["instrument_cells"]
    assert len(pieces) > len(synthetic.cell_gdf)


@pytest.mark.parametrize("binning", [1, 3])
def test_composite_shows_the_nuclei(tmp_path: Path, binning: int) -> None:
    # Four rows of the honeycomb: unlike five, not symmetric under the reader's row flip.
    synthetic = make_result(np.random.default_rng(17), n_rows=4, n_ambient=0, n_control=0)
    path = cosmx_writer.write_cosmx(synthetic, tmp_path / "cosmx", fov_size_px=SMALL_FOV_PX,
                                    composite_binning=binning)
    sdata = cosmx(path, transcripts=False)
    corners = pd.read_csv(path / f"{DATASET_ID}_{CosmxFiles.FOV_POSITIONS}").set_index("fov") * PIXEL_SIZE
    nuclei = shapely.union_all(synthetic.cell_gdf["nucleus"].values)
    cells = shapely.union_all(synthetic.cell_gdf.geometry.values)
    for fov, corner in corners.iterrows():
        image = sdata.images[f"{fov}_image"]
        assert image.sizes == {"c": 3, "y": SMALL_FOV_PX, "x": SMALL_FOV_PX}
        blue = image.isel(c=2).to_numpy().astype(float)
        rows, cols = np.indices(blue.shape)
        x = corner["x_global_px"] + (cols + 0.5) * PIXEL_SIZE
        y = corner["y_global_px"] + (rows + 0.5) * PIXEL_SIZE
        in_nucleus = shapely.contains_xy(nuclei, x, y)
        outside = ~shapely.contains_xy(cells, x, y)
        assert in_nucleus.sum() > 1000 and outside.sum() > 1000
        assert blue[in_nucleus].mean() > 3 * blue[outside].mean()


def test_simulated_folder_is_read_back(simulated: SimulationResult, tmp_path: Path) -> None:
    assert set(simulated.trs_df["origin"]) >= {"cell", "leaked", "ambient", "control"}
    path = cosmx_writer.write_cosmx(simulated, tmp_path / "cosmx", fov_size_px=1600, composite_images=False)
    # The tissue (~370 µm for 300 cells) is wider than one 192-µm FOV: several FOVs.
    _check_folder(simulated, path, min_fovs=4, images=False)


def test_fov_layout_covers_and_partitions() -> None:
    layout = FovLayout.covering((3.0, -5.0, 250.0, 40.0), size_px=1000, pixel_size=0.1)
    assert len(layout.x_starts) == 3 and len(layout.y_starts) == 1
    boxes, owned = layout.boxes(), layout.owned()
    assert shapely.contains(shapely.union_all(boxes), shapely.box(3.0, -5.0, 250.0, 40.0))
    # The owned parts tile the FOVs' union without overlapping, each inside its own field.
    assert np.isclose(shapely.area(owned).sum(), shapely.area(shapely.union_all(owned)))
    assert shapely.contains(boxes, owned).all()
    rng = np.random.default_rng(0)
    x, y = rng.uniform(3, 250, 500), rng.uniform(-5, 40, 500)
    fov, x_local, y_local = layout.locate(x, y)
    assert shapely.contains_xy(owned[fov - 1], x, y).all()
    assert (x_local >= 0).all() and (x_local < 1000).all() and (y_local >= 0).all() and (y_local < 1000).all()


def test_failure_mid_write_leaves_nothing(synthetic: SimulationResult, tmp_path: Path, monkeypatch) -> None:
    def fail(*args, **kwargs):
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(cosmx_writer, "write_ground_truth", fail)
    with pytest.raises(OSError, match="disk full"):
        cosmx_writer.write_cosmx(synthetic, tmp_path / "cosmx", fov_size_px=SMALL_FOV_PX, composite_images=False)
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_needs_overwrite(synthetic: SimulationResult, tmp_path: Path) -> None:
    target = tmp_path / "cosmx"
    target.mkdir()
    (target / "old.txt").write_text("old")
    (target / "manifest.json").write_text("{}")  # a folder STpuppeteer wrote (only those are replaced)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        synthetic.write_cosmx(target)
    assert (target / "old.txt").exists()
    cosmx_writer.write_cosmx(synthetic, target, overwrite=True, fov_size_px=SMALL_FOV_PX, composite_images=False)
    assert not (target / "old.txt").exists()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pixel_size": -1.0}, "pixel_size"),
        ({"fov_size_px": 4}, "fov_size_px"),
        ({"dataset_id": "a/b"}, "dataset_id"),
        ({"composite_binning": 0}, "composite_binning=0"),
        ({"composite_binning": 2.5}, "composite_binning=2.5"),
    ],
)
def test_bad_arguments(synthetic: SimulationResult, tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cosmx_writer.write_cosmx(synthetic, tmp_path / "cosmx", **kwargs)
    assert not (tmp_path / "cosmx").exists()


def test_too_few_cells_for_any_fov(tmp_path: Path) -> None:
    tiny = make_result(np.random.default_rng(2), n_rows=1, n_cols=2)
    with pytest.raises(ValueError, match="no field of view"):
        cosmx_writer.write_cosmx(tiny, tmp_path / "cosmx")
    assert list(tmp_path.iterdir()) == []
