import anndata as ad
import numpy as np
import pandas as pd
import pytest

from STpuppeteer.config import SimulationConfig, preset_config
from STpuppeteer.io.anndata import observed_gene_counts
from STpuppeteer.simulation import SpotlessSimulator


@pytest.fixture(scope="module")
def result():
    return SpotlessSimulator(preset_config("xenium", seed=2, n_cells=300)).run()


def test_to_anndata_layout(result):
    adata = result.to_anndata()
    assert adata.shape == (300, 300)
    np.testing.assert_array_equal(adata.X, result.count_array)
    assert np.issubdtype(adata.X.dtype, np.integer)
    assert list(adata.obs_names) == [str(i) for i in result.cell_gdf["cell_id"]]
    assert "geometry" not in adata.obs and "nucleus" not in adata.obs
    assert list(adata.var_names) == list(result.gpar_df["feature_name"])
    np.testing.assert_allclose(adata.var["ct_0_mu"], result.gpar_df["ct_0_mu"])
    assert adata.uns["stpuppeteer"]["seed"] == 2
    assert SimulationConfig.model_validate_json(adata.uns["stpuppeteer"]["config_json"]) == result.config
    np.testing.assert_allclose(adata.obsm["spatial"], result.cell_gdf[["x", "y"]].to_numpy())


def test_observed_layer_counts_detected_molecules_by_landed_cell(result):
    obs = observed_gene_counts(result).toarray()
    trs = result.trs_df
    keep = trs[trs["origin"].isin(["cell", "leaked", "ambient"]) & (trs["landed_cell_id"] >= 0)]
    expected = pd.crosstab(keep["landed_cell_id"], keep["feature_name"].astype(str))
    genes = list(result.gpar_df["feature_name"])
    expected = expected.reindex(index=result.cell_gdf["cell_id"], columns=genes, fill_value=0).to_numpy()
    np.testing.assert_array_equal(obs, expected)
    assert obs.sum() < len(trs)  # controls and extracellular molecules are left out


def test_write_h5ad_round_trip_and_overwrite(result, tmp_path):
    path = tmp_path / "sim.h5ad"
    assert result.write_h5ad(path) == path
    back = ad.read_h5ad(path)
    np.testing.assert_array_equal(back.X, result.count_array)
    np.testing.assert_array_equal(back.layers["observed"].toarray(), observed_gene_counts(result).toarray())
    with pytest.raises(FileExistsError):
        result.write_h5ad(path)
    result.write_h5ad(path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["sim.h5ad"]
