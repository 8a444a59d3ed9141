"""The MERSCOPE-like folder, read back with the real ``spatialdata_io.merscope``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from spatialdata.transformations import get_transformation
from spatialdata_io import merscope

from STpuppeteer.config import SimulationConfig
from STpuppeteer.io import merscope as merscope_writer
from STpuppeteer.io._merscope_constants import FOV_SIZE_PX, MOSAIC_Z, MerscopeFiles
from STpuppeteer.io.ground_truth import read_ground_truth
from STpuppeteer.io.manifest import MANIFEST_NAME
from STpuppeteer.result import SimulationResult
from STpuppeteer.simulation import SpotlessSimulator
from synthetic_result import make_result

# spatialdata_io.merscope passes AnnData's deprecated ``dtype=`` itself; nothing we write changes that.
pytestmark = pytest.mark.filterwarnings("ignore:The dtype argument is deprecated:FutureWarning")

PIXEL_SIZE = 0.25  # coarser than MERSCOPE's 0.108 µm to keep the rendered mosaics small


@pytest.fixture(scope="module")
def synthetic() -> SimulationResult:
    return make_result(np.random.default_rng(11))


@pytest.fixture(scope="module")
def simulated() -> SimulationResult:
    config = SimulationConfig(
        seed=5,
        n_cells=300,
        leakage_by_celltype={"ct_0": 0.2, "ct_1": 0.1, "ct_2": 0.05},
        instrument={
            "ambient_rate_per_um2": 0.01,
            "neg_control_probe_rate_per_um2": 0.002,
            "unassigned_codeword_rate_per_um2": 0.002,
        },
    )
    return SpotlessSimulator(config).run()


def _write(result: SimulationResult, root: Path, **kwargs) -> Path:
    # The reader names the dataset "{parent folder}_{folder}", as in run_name/region_0.
    (root / "run").mkdir(exist_ok=True)
    return merscope_writer.write_merscope(result, root / "run" / "region_0", **kwargs)


def _expected_counts(result: SimulationResult) -> pd.DataFrame:
    """Molecules per landed cell and feature, the slow obvious way."""
    trs = result.trs_df[result.trs_df["landed_cell_id"] >= 0]
    table = pd.crosstab(trs["landed_cell_id"], trs["feature_name"].astype(str))
    return table.reindex(index=result.cell_gdf["cell_id"].to_numpy(), fill_value=0)


def _check_folder(result: SimulationResult, path: Path) -> None:
    sdata = merscope(path)
    key = "run_region_0"
    trs = result.trs_df.set_index("transcript_id")
    genes = result.gpar_df["feature_name"].astype(str).to_list()
    controls = sorted(set(trs["feature_name"].astype(str)) - set(genes))
    blank = {name: f"Blank-{i + 1}" for i, name in enumerate(controls)}

    # Transcripts: every molecule once, at its position in µm; the transform takes µm to pixels.
    points = sdata.points[f"{key}_transcripts"].compute().set_index("transcript_id").loc[trs.index]
    assert len(points) == len(trs)
    # The CSV keeps 0.01 µm (2 decimals of µm).
    np.testing.assert_allclose(points["x"], trs["x"], atol=5.1e-3)
    np.testing.assert_allclose(points["y"], trs["y"], atol=5.1e-3)
    assert (points["gene"].astype(str).to_numpy() == trs["feature_name"].astype(str).replace(blank).to_numpy()).all()
    assert (points["cell_id"].to_numpy() == trs["landed_cell_id"].to_numpy()).all()
    affine = get_transformation(sdata.points[f"{key}_transcripts"], "global").to_affine_matrix(
        input_axes=("x", "y"), output_axes=("x", "y")
    )
    transform = np.loadtxt(path / MerscopeFiles.IMAGES_DIR / MerscopeFiles.TRANSFORM)
    np.testing.assert_allclose(affine, transform)
    mosaic_pixel = 1 / transform[0, 0]
    x0, y0 = -transform[0, 2] * mosaic_pixel, -transform[1, 2] * mosaic_pixel
    assert x0 <= trs["x"].min() and y0 <= trs["y"].min()
    # x, y: camera pixels (the manifest's pixel_size_um) from the corner of the 2048-pixel field of view ``fov``.
    camera_pixel = json.loads((path / MANIFEST_NAME).read_text())["pixel_size_um"]
    raw = pd.read_csv(path / MerscopeFiles.TRANSCRIPTS)
    assert raw["x"].between(0, FOV_SIZE_PX).all() and raw["y"].between(0, FOV_SIZE_PX).all()
    global_px = (raw[["global_x", "global_y"]].to_numpy() - [x0, y0]) / camera_pixel
    fov_corner = global_px - raw[["x", "y"]].to_numpy()
    # Within the rounding of global_x (5 nm, 0.047 pixel) and x (0.005 pixel).
    np.testing.assert_allclose(fov_corner, FOV_SIZE_PX * np.round(fov_corner / FOV_SIZE_PX), atol=0.053)
    # Rows come field of view by field of view, the first column numbering them within each.
    assert raw["fov"].is_monotonic_increasing
    np.testing.assert_array_equal(raw.iloc[:, 0].to_numpy(), raw.groupby("fov").cumcount().to_numpy())

    # Cells: one polygon per true cell, in µm, keyed by EntityID = cell_id.
    shapes = sdata.shapes[f"{key}_polygons"]
    cells = result.cell_gdf.set_index(result.cell_gdf["cell_id"].astype(str))
    assert len(shapes) == len(cells)
    assert shapely.equals(shapes.geometry.loc[cells.index].values, cells.geometry.values).all()

    # Table: gene counts in X, controls in obsm["blank"], both per landed cell.
    table = sdata.tables["table"]
    assert table.n_obs == len(cells)
    assert list(table.obs_names) == list(cells.index)
    assert list(table.var_names) == genes
    expected = _expected_counts(result)
    np.testing.assert_array_equal(np.asarray(table.X), expected.reindex(columns=genes, fill_value=0).to_numpy())
    blanks = table.obsm["blank"]
    assert list(blanks.columns) == [blank[c] for c in controls]
    np.testing.assert_array_equal(blanks.to_numpy(), expected.reindex(columns=controls, fill_value=0).to_numpy())
    np.testing.assert_allclose(
        table.obsm["spatial"], shapely.get_coordinates(shapely.centroid(cells.geometry.values)), atol=5.1e-3
    )

    # Ground truth: molecule -> source cell and true counts.
    truth = read_ground_truth(path)
    pd.testing.assert_frame_equal(truth["trs_df"], result.trs_df.reset_index(drop=True))
    np.testing.assert_array_equal(truth["count_array"], result.count_array)

    # Manifest: written last, it lists every other file.
    manifest = json.loads((path / MANIFEST_NAME).read_text())
    on_disk = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {MANIFEST_NAME}
    assert set(manifest["files"]) == on_disk
    assert manifest["format"] == "merscope"


def test_synthetic_folder_is_read_back(synthetic: SimulationResult, tmp_path: Path) -> None:
    path = _write(synthetic, tmp_path, pixel_size=PIXEL_SIZE, mosaic_pixel_size=2 * PIXEL_SIZE)
    _check_folder(synthetic, path)


def test_mosaics_show_the_nuclei(tmp_path: Path) -> None:
    # Fine pixels, so that the mosaic spans two fields of view and is rendered in two tiles.
    result = make_result(np.random.default_rng(3), n_rows=3, n_cols=7, n_ambient=0, n_control=0)
    path = _write(result, tmp_path, mosaic_pixel_size=0.035)
    sdata = merscope(path, transcripts=False, cells_table=False, cells_boundaries=False)
    image = sdata.images[f"run_region_0_z{MOSAIC_Z}"]["scale0"]["image"]
    assert set(image.coords["c"].values) == {"DAPI", "Cellbound1"}
    dapi = image.sel(c="DAPI").to_numpy().astype(float)
    transform = np.loadtxt(path / MerscopeFiles.IMAGES_DIR / MerscopeFiles.TRANSFORM)
    # Sampled pixel centres back to µm, then in a nucleus / outside every cell.
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, dapi.shape[0], 100_000), rng.integers(0, dapi.shape[1], 100_000)
    x = (cols + 0.5 - transform[0, 2]) / transform[0, 0]
    y = (rows + 0.5 - transform[1, 2]) / transform[1, 1]
    in_nucleus = shapely.contains_xy(shapely.union_all(result.cell_gdf["nucleus"].values), x, y)
    outside = ~shapely.contains_xy(shapely.union_all(result.cell_gdf.geometry.values), x, y)
    assert in_nucleus.sum() > 1000 and outside.sum() > 1000
    assert dapi[rows, cols][in_nucleus].mean() > 4 * dapi[rows, cols][outside].mean()
    # No seam where the two tiles meet: the step across it is like any step between columns.
    assert dapi.shape[1] > FOV_SIZE_PX
    steps = np.abs(np.diff(dapi, axis=1)).mean(axis=0)
    assert steps[FOV_SIZE_PX - 1] < 1.5 * np.median(steps)


def test_without_mosaics(synthetic: SimulationResult, tmp_path: Path) -> None:
    path = _write(synthetic, tmp_path, mosaic_images=False)
    assert [p.name for p in (path / MerscopeFiles.IMAGES_DIR).iterdir()] == [MerscopeFiles.TRANSFORM]
    assert merscope(path, transcripts=False).images == {}


def test_simulated_folder_is_read_back(simulated: SimulationResult, tmp_path: Path) -> None:
    assert set(simulated.trs_df["origin"]) >= {"cell", "leaked", "ambient", "control"}
    path = _write(simulated, tmp_path, pixel_size=1.0)
    _check_folder(simulated, path)


def test_default_method_writes_instrument_pixels(synthetic: SimulationResult, tmp_path: Path) -> None:
    # Camera pixels in the transcripts, the config's (binned) mosaic pixels in the transform.
    path = synthetic.write_merscope(tmp_path / "region_0")
    transform = np.loadtxt(path / MerscopeFiles.IMAGES_DIR / MerscopeFiles.TRANSFORM)
    np.testing.assert_allclose(np.diag(transform)[:2], 1 / synthetic.config.images.merscope_pixel_size_um)
    manifest = json.loads((path / MANIFEST_NAME).read_text())
    assert manifest["pixel_size_um"] == 0.108
    assert manifest["mosaic_pixel_size_um"] == synthetic.config.images.merscope_pixel_size_um


def test_failure_mid_write_leaves_nothing(synthetic: SimulationResult, tmp_path: Path, monkeypatch) -> None:
    def fail(*args, **kwargs):
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(merscope_writer, "write_ground_truth", fail)
    with pytest.raises(OSError, match="disk full"):
        _write(synthetic, tmp_path, mosaic_images=False)
    assert list((tmp_path / "run").iterdir()) == []


def test_existing_folder_needs_overwrite(synthetic: SimulationResult, tmp_path: Path) -> None:
    target = tmp_path / "run" / "region_0"
    target.mkdir(parents=True)
    (target / "old.txt").write_text("old")
    (target / "manifest.json").write_text("{}")  # a folder STpuppeteer wrote (only those are replaced)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        merscope_writer.write_merscope(synthetic, target, mosaic_images=False)
    assert (target / "old.txt").exists()
    merscope_writer.write_merscope(synthetic, target, overwrite=True, mosaic_images=False)
    assert not (target / "old.txt").exists()
    assert (target / MerscopeFiles.TRANSCRIPTS).is_file()


@pytest.mark.parametrize("name", ["pixel_size", "mosaic_pixel_size"])
def test_bad_pixel_size(synthetic: SimulationResult, tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}=0.0"):
        merscope_writer.write_merscope(synthetic, tmp_path / "x", **{name: 0.0})
    assert not (tmp_path / "x").exists()


def test_mosaics_beyond_the_raster_limit_are_refused_before_writing(synthetic, tmp_path):
    with pytest.raises(ValueError, match=r"MERSCOPE format: the mosaics .* mosaic_images=False"):
        _write(synthetic, tmp_path, mosaic_pixel_size=0.002)  # 79 × 63 µm: 1.2e9 pixels
    assert not (tmp_path / "run" / "region_0").exists()
