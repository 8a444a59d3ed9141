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
    np.testing.assert_array_equal(adata.X.toarray(), observed_gene_counts(result).toarray())
    np.testing.assert_array_equal(adata.layers["true"], result.count_array)
    assert np.issubdtype(adata.X.dtype, np.integer) and np.issubdtype(adata.layers["true"].dtype, np.integer)
    assert set(adata.layers) == {"true"}
    assert adata.obs["xenium_cell_id"].iloc[1] == "aaaaaaab-1"
    np.testing.assert_array_equal(adata.obs["merscope_cell_id"], result.cell_gdf["cell_id"])
    assert (adata.obs["celltype"].astype(str).to_numpy() == result.cell_gdf["celltype"].astype(str).to_numpy()).all()
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
    np.testing.assert_array_equal(back.X.toarray(), observed_gene_counts(result).toarray())
    np.testing.assert_array_equal(back.layers["true"], result.count_array)
    assert back.obs["xenium_cell_id"].tolist() == result.to_anndata().obs["xenium_cell_id"].tolist()
    with pytest.raises(FileExistsError):
        result.write_h5ad(path)
    result.write_h5ad(path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["sim.h5ad"]


# Every form a config field can take (issue 20: prototypes and shared markers failed to write
# h5ad, a 2^70 seed failed both stores; seeds now stop at 2^63 - 1, the largest a store holds).
STORE_CONFIGS = {
    "prior_forms": dict(
        seed=2**63 - 1, n_cells=40, n_markers=3, celltype_names=["a/b", "a_b", "T cell é"],
        shared_markers=[{"celltypes": ["a/b", "a_b"], "n_genes": 2}],
        celltype_priors={"a_b": {"marker_mu": 1.0, "theta_rate": 2.0}},
        leakage_by_celltype={"a/b": 0.1, "a_b": 0.2}, leakage_by_gene={"hk_0": 0.3},
        tissue={"prototypes": [{"kind": "ring", "celltype": "a_b", "core_celltype": "a/b", "radius_um": 10,
                                "width_um": 5}, {"kind": "chain", "celltype": "T cell é", "length_um": 30}],
                "mask_um": [(0, 0), (100, 0), (100, 60), (0, 60)]},
        morphology={"celltype_shapes": {"a/b": {"roughness": 0.1}}},
        transcripts={"nuclear_fraction": 0.4, "nuclear_fraction_by_gene": {"hk_1": 0.9}},
    ),
    "program_forms": dict(
        n_cells=40, programs=[{"name": "p/q", "loading": {"A": 2.0, "B/C": 1.0}, "description": "x"},
                              {"name": "p_q", "loading": {"A": 1.0}}],
        cell_type_specs={"U/V": {"proportion": 1.0, "program_activations": [1.0, 0.5], "activation_sd": {"p/q": 0.2}},
                         "U_V": {"proportion": 2.0, "program_activations": {"p_q": 1.0}}},
        extra_genes=["Z"], leakage_by_gene=[0.1, 0.0, 0.2],
    ),
}


@pytest.mark.parametrize("name", list(STORE_CONFIGS))
def test_every_legal_config_form_is_stored_in_h5ad_and_spatialdata(name, tmp_path):
    from STpuppeteer.io.spatialdata import result_to_spatialdata

    config = SimulationConfig(**STORE_CONFIGS[name])
    result = SpotlessSimulator(config).run()
    back = ad.read_h5ad(result.write_h5ad(tmp_path / "sim.h5ad"))
    assert SimulationConfig.model_validate_json(back.uns["stpuppeteer"]["config_json"]) == config
    assert back.uns["stpuppeteer"]["seed"] == config.seed
    if name == "prior_forms":  # '/' becomes '_'; the key it then repeats is kept as '-2'
        assert dict(back.uns["stpuppeteer"]["config"]["leakage_by_celltype"]) == {"a_b": 0.1, "a_b-2": 0.2}
    store = tmp_path / "sim.zarr"  # the table as write_spatialdata stores it, without the rasters
    with ad.settings.override(auto_shard_zarr_v3=False):
        result_to_spatialdata(result, image=False, labels=False).write(store)
    table = ad.read_zarr(store / "tables" / "table")
    assert SimulationConfig.model_validate_json(table.uns["stpuppeteer"]["config_json"]) == config
