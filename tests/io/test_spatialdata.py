"""SpatialData view of a simulation, and its round trip through ``.zarr``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from STpuppeteer.io.anndata import observed_gene_counts
from STpuppeteer.io.spatialdata import result_to_spatialdata, write_spatialdata
from synthetic_result import full_resolution, make_synthetic_result

spatialdata = pytest.importorskip("spatialdata")

# ome_zarr.writer (imported by spatialdata's writer) instantiates its own deprecated Scaler at
# import time; nothing we call uses it.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated class Scaler:DeprecationWarning")


@pytest.fixture(scope="module")
def small():
    """The hand-built result alone, for tests of the writing mechanics."""
    return make_synthetic_result(7)


@pytest.fixture(scope="module", params=["synthetic", "simulated"])
def synthetic(request):
    """The hand-built result, and a real small simulation through every stage."""
    if request.param == "synthetic":
        return make_synthetic_result(7)
    from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator

    return SpotlessSimulator(SimulationConfig.from_preset("xenium", seed=8, n_cells=250)).run()


@pytest.fixture(scope="module")
def sdata(synthetic):
    return result_to_spatialdata(synthetic)


@pytest.fixture(scope="module")
def store(synthetic, tmp_path_factory):
    return write_spatialdata(synthetic, tmp_path_factory.mktemp("sd") / "sim.zarr")


def check_against_result(sd, result):
    trs, cell_gdf = result.trs_df.sort_values("transcript_id"), result.cell_gdf
    points = sd.points["transcripts"].compute().sort_values("transcript_id")
    assert len(points) == len(trs)
    for column in ("x", "y", "z"):
        np.testing.assert_allclose(points[column].to_numpy(), trs[column].to_numpy())
    np.testing.assert_array_equal(points["cell_id"].to_numpy(), trs["cell_id"].to_numpy())
    np.testing.assert_array_equal(points["landed_cell_id"].to_numpy(), trs["landed_cell_id"].to_numpy())
    assert (points["origin"].astype(str).to_numpy() == trs["origin"].to_numpy()).all()

    cells = sd.shapes["cell_boundaries"]
    np.testing.assert_array_equal(cells.index.to_numpy(), cell_gdf["cell_id"].to_numpy())
    np.testing.assert_allclose(cells.area.to_numpy(), cell_gdf["cell_area"].to_numpy())
    np.testing.assert_allclose(sd.shapes["nucleus_boundaries"].area.to_numpy(), cell_gdf["nucleus_area"].to_numpy())

    table = sd.tables["table"]
    np.testing.assert_array_equal(table.X.toarray(), observed_gene_counts(result).toarray())
    np.testing.assert_array_equal(np.asarray(table.layers["true"]), result.count_array)
    assert table.var_names.tolist() == result.gpar_df["feature_name"].tolist()
    attrs = table.uns["spatialdata_attrs"]
    assert attrs["region"] == "cell_boundaries"
    np.testing.assert_array_equal(table.obs[attrs["instance_key"]].to_numpy(), cell_gdf["cell_id"].to_numpy())
    assert json.loads(table.uns["stpuppeteer"]["config_json"])["seed"] == result.config.seed


def test_elements(sdata, synthetic):
    check_against_result(sdata, synthetic)
    assert set(sdata.images) == {"morphology"}
    assert set(sdata.labels) == {"cell_labels", "nucleus_labels"}


def test_rasters_are_aligned_with_the_shapes(sdata, synthetic):
    from spatialdata.transformations import get_transformation

    cell_gdf = synthetic.cell_gdf
    pixel = synthetic.config.images.spatialdata_pixel_size_um
    scale = get_transformation(sdata.labels["cell_labels"], to_coordinate_system="global")
    np.testing.assert_allclose(scale.to_affine_matrix(("x", "y"), ("x", "y"))[:2, :2], np.eye(2) * pixel)
    mask = full_resolution(sdata.labels["cell_labels"])
    cols = (cell_gdf["x"].to_numpy() / pixel).astype(int)
    rows = (cell_gdf["y"].to_numpy() / pixel).astype(int)
    np.testing.assert_array_equal(mask[rows, cols], cell_gdf["cell_id"].to_numpy() + 1)
    image = full_resolution(sdata.images["morphology"])
    nuclei = full_resolution(sdata.labels["nucleus_labels"]) > 0
    assert np.median(image[0][nuclei]) > 4 * np.median(image[0][~nuclei])


def test_zarr_round_trip(store, synthetic):
    back = spatialdata.read_zarr(store)
    check_against_result(back, synthetic)
    np.testing.assert_array_equal(
        full_resolution(back.labels["nucleus_labels"]),
        full_resolution(result_to_spatialdata(synthetic, image=False).labels["nucleus_labels"]),
    )
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["format"] == "spatialdata"
    assert manifest["seed"] == synthetic.config.seed


def test_points_are_stored_packed_and_read_back_as_the_same_frame(store, sdata):
    import pandas as pd
    import pyarrow.parquet as pq

    (part,) = store.glob("points/transcripts/points.parquet/*.parquet")
    meta = pq.ParquetFile(part).metadata.row_group(0)
    assert {meta.column(i).compression for i in range(meta.num_columns)} == {"ZSTD"}
    back = spatialdata.read_zarr(store).points["transcripts"].compute()
    pd.testing.assert_frame_equal(back, sdata.points["transcripts"].compute())


def test_existing_store_is_refused(store, synthetic):
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_spatialdata(synthetic, store)


def test_failure_mid_write_leaves_nothing(small, tmp_path, monkeypatch):
    import STpuppeteer.io.spatialdata as module

    def boom(*args, **kwargs):
        msg = "interrupted"
        raise KeyboardInterrupt(msg)

    monkeypatch.setattr(module, "write_manifest", boom)
    with pytest.raises(KeyboardInterrupt):
        write_spatialdata(small, tmp_path / "sim.zarr")
    assert list(tmp_path.iterdir()) == []


def test_without_rasters(small):
    sd = result_to_spatialdata(small, image=False, labels=False)
    assert not sd.images
    assert not sd.labels



@pytest.mark.parametrize(("levels", "scales"), [(0, []), (2, ["scale0", "scale1", "scale2"])])
def test_pixel_size_and_pyramid_levels_are_knobs(small, levels, scales):
    import xarray as xr
    from spatialdata.transformations import get_transformation

    sdata = result_to_spatialdata(small, labels=False, pixel_size=0.5, pyramid_levels=levels)
    image = sdata.images["morphology"]
    assert (list(image.children) if isinstance(image, xr.DataTree) else []) == scales
    scale = get_transformation(image, to_coordinate_system="global")
    np.testing.assert_allclose(scale.to_affine_matrix(("x", "y"), ("x", "y"))[:2, :2], np.eye(2) * 0.5)
    xmax, ymax = small.cell_gdf.total_bounds[2:]
    assert full_resolution(image).shape[1:] >= (np.ceil(ymax / 0.5), np.ceil(xmax / 0.5))
