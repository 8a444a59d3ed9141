"""The program model through all the seed runs through: drivers, spatial patterns, writers, readers, metrics, CLI.

Cell types are named as biologists name them (spaces, slashes, unicode) and must come back
under those names from every reader.
"""

from __future__ import annotations

import contextlib
import io
import json

import anndata
import numpy as np
import pandas as pd
import pytest
import spatialdata
import spatialdata_io
import yaml

from STpuppeteer.cli import main
from STpuppeteer.io.ground_truth import read_ground_truth
from STpuppeteer.metrics import exclusive_marker_pairs, oracle_assignment, score
from STpuppeteer.pipeline.streamed import simulate_to_xenium
from STpuppeteer.simulation import (
    SimulationConfig,
    SpotlessSimulator,
    build_program_gpar_df,
    classify_leakage,
    counts_to_transcript_df,
    expected_program_means,
    sample_counts_program_model,
)

# spatialdata_io's MERSCOPE and CosMx readers pass AnnData's deprecated ``dtype=`` themselves.
pytestmark = pytest.mark.filterwarnings("ignore:The dtype argument is deprecated:FutureWarning")

NAMES = ["Ductal/tumor epithelial", "Fibroblast / CAF", "T cell (CD8⁺)", "Mural / pericyte"]
CONFIG = {
    "seed": 8,
    "n_cells": 240,
    "programs": [
        {"name": "epithelial", "loading": {"EPCAM": 30.0, "KRT19": 25.0, "KRT8": 20.0}},
        {"name": "stroma", "loading": {"COL1A1": 35.0, "DCN": 20.0, "FAP": 10.0}},
        {"name": "t cells", "loading": {"PTPRC": 20.0, "CD3E": 25.0}},
        {"name": "mural", "loading": {"RGS5": 30.0, "ACTA2": 25.0}},
    ],
    "cell_type_specs": {
        NAMES[0]: {"proportion": 0.4, "program_activations": {"epithelial": 1.0}, "activation_sd": 0.2},
        NAMES[1]: {"proportion": 0.3, "program_activations": {"stroma": 1.0}},
        NAMES[2]: {"proportion": 0.2, "program_activations": {"t cells": 1.0}},
        NAMES[3]: {"proportion": 0.1, "program_activations": {"mural": 1.0, "stroma": 0.2}},
    },
    "leakage_by_celltype": {NAMES[2]: 0.2},
    "leakage_by_gene": 0.1,
    "tissue": {
        "pattern": "layers",
        "layer_order": [NAMES[1], NAMES[0], NAMES[3], NAMES[2]],
        "prototypes": [{"kind": "ring", "celltype": NAMES[2], "core_celltype": NAMES[0], "radius_um": 12.0,
                        "width_um": 10.0}],
    },
    "instrument": {"ambient_rate_per_um2": 0.02, "neg_control_probe_rate_per_um2": 0.003},
    "transcripts": {"block_size": 64},
}


@pytest.fixture(scope="module")
def config() -> SimulationConfig:
    return SimulationConfig.from_dict(CONFIG)


@pytest.fixture(scope="module")
def result(config):
    return SpotlessSimulator(config).run()


@pytest.fixture(scope="module")
def written(result, tmp_path_factory):
    root = tmp_path_factory.mktemp("programs")
    (root / "run").mkdir()  # the MERSCOPE reader names a dataset after its parent folder
    paths = {
        "xenium": result.write_xenium(root / "xenium"),
        # The instruments' images are tested in their own files; names are in tables, not pixels.
        "merscope": result.write_merscope(root / "run" / "region_0", mosaic_images=False),
        "cosmx": result.write_cosmx(root / "cosmx", composite_images=False),
        "spatialdata": result.write_spatialdata(root / "simulation.zarr"),
        "h5ad": result.write_h5ad(root / "simulation.h5ad"),
    }
    return paths


def test_spatial_pattern_places_the_named_types(result):
    cells = result.cell_gdf
    assert set(cells["celltype"]) == set(NAMES)
    counts = cells["celltype"].value_counts()
    assert [counts[n] for n in NAMES] == [96, 72, 48, 24]  # the proportions, exactly
    # Layers along y in the given order (cells outside the ring prototypes).
    depth = cells.groupby("celltype")["y"].median()
    assert depth[NAMES[1]] < depth[NAMES[0]] < depth[NAMES[3]]
    assert result.trs_df["celltype"].cat.categories.tolist() == [*NAMES, "none"]
    assert result.cell_gdf["leakage_percentage"].groupby(cells["celltype"]).first()[NAMES[2]] == 0.2


@pytest.mark.parametrize("fmt", ["xenium", "merscope", "cosmx"])
def test_instrument_bundles_read_back_with_the_names_in_the_ground_truth(result, written, fmt):
    path = written[fmt]
    reader = {"xenium": spatialdata_io.xenium, "merscope": spatialdata_io.merscope, "cosmx": spatialdata_io.cosmx}[fmt]
    sdata = reader(path)
    assert sum(t.n_obs for t in sdata.tables.values()) >= len(result.cell_gdf)
    truth = read_ground_truth(path)
    assert truth["cell_gdf"]["celltype"].tolist() == result.cell_gdf["celltype"].tolist()
    assert set(truth["trs_df"]["celltype"].astype(str)) <= {*NAMES, "none"}
    pd.testing.assert_frame_equal(truth["gpar_df"], result.gpar_df)
    np.testing.assert_array_equal(truth["count_array"], result.count_array)
    manifest = json.loads((path / "manifest.json").read_text())
    assert SimulationConfig.model_validate(manifest["config"]) == result.config


def test_spatialdata_and_h5ad_keep_the_names_in_obs(result, written):
    sdata = spatialdata.read_zarr(written["spatialdata"])
    table = sdata.tables["table"]
    assert table.obs["celltype"].astype(str).tolist() == result.cell_gdf["celltype"].tolist()
    points = sdata.points["transcripts"].compute()
    assert set(points["celltype"].astype(str)) <= {*NAMES, "none"}
    adata = anndata.read_h5ad(written["h5ad"])
    assert adata.obs["celltype"].astype(str).tolist() == result.cell_gdf["celltype"].tolist()
    assert adata.var_names.tolist() == result.config.resolve_gene_names()
    renamed = dict(zip(adata.uns["stpuppeteer"]["var_columns"]["original"],
                       adata.uns["stpuppeteer"]["var_columns"]["name"], strict=True))
    np.testing.assert_allclose(adata.var[renamed["Fibroblast / CAF_mu"]], result.gpar_df["Fibroblast / CAF_mu"])
    assert SimulationConfig.model_validate_json(adata.uns["stpuppeteer"]["config_json"]) == result.config
    np.testing.assert_array_equal(adata.layers["true"], result.count_array)
    assert adata.X.sum() == ((result.trs_df["origin"] != "control") & (result.trs_df["landed_cell_id"] >= 0)).sum()


def test_streamed_driver_gives_the_same_molecules(config, result, tmp_path):
    path = simulate_to_xenium(config, tmp_path / "streamed", images=False)
    truth = read_ground_truth(path)
    np.testing.assert_array_equal(truth["count_array"], result.count_array)
    cols = ["x", "y", "feature_name", "cell_id", "celltype", "origin", "landed_cell_id"]
    pd.testing.assert_frame_equal(truth["trs_df"][cols].reset_index(drop=True),
                                  result.trs_df[cols].reset_index(drop=True), check_categorical=False)


def test_metrics_score_a_program_simulation(result):
    assert len(exclusive_marker_pairs(result.gpar_df)) > 0  # markers of different named types
    labels = result.cell_gdf[["cell_id", "celltype"]]
    scores = score(result, assignment=oracle_assignment(result), labels=labels)
    # The true polygons put each molecule in the cell it landed in: right when that is its source
    # (or no cell for an ambient one). Leaked and ambient molecules land inside neighbours in a
    # confluent tissue, so this ceiling is well below 1.
    trs = result.trs_df[result.trs_df["origin"] != "control"]
    landed_in_source = float((trs["landed_cell_id"] == trs["cell_id"]).mean())
    assert scores["assignment"]["accuracy"] == pytest.approx(landed_in_source, abs=0.01)
    assert scores["assignment"]["accuracy"] > 0.6
    # Exclusive markers are co-expressed in a cell only through contamination: the perfect
    # assignment (by source) leaves little of it, the polygons keep what leaked into them.
    clean = score(result, assignment=oracle_assignment(result, "source"))["expression"]["mecr"]
    assert 0 <= clean < 0.2 and clean < scores["expression"]["mecr"] <= 1
    assert scores["typing"]["accuracy"] == 1.0


def test_cli_prints_a_program_config_and_simulates_it(tmp_path):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["config", "--model", "programs", "--n-cells", "200"]) == 0
    text = out.getvalue()
    assert "# μ0" in text and "Fibroblast / CAF" in text
    path = tmp_path / "programs.yaml"
    path.write_text(text)
    assert SimulationConfig.from_yaml(path) == SimulationConfig.from_preset("breast_programs", n_cells=200)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["simulate", "--config", str(path), "--out", str(tmp_path / "run"), "--format", "h5ad",
                     "--quiet"]) == 0
    adata = anndata.read_h5ad(tmp_path / "run" / "simulation.h5ad")
    assert "Luminal epithelial (ER+)" in set(adata.obs["celltype"])
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["cell_type_specs"]["Fibroblast / CAF"]


# ---------------------------------------------------------------------------------------
# The "done when": a client written only against the entry points
# ---------------------------------------------------------------------------------------
CLIENT_YAML = """\
simulation:
  seed: 42
  n_cells: 200
  expression_baseline: 0.05
  overdispersion_cv: 0.5
  overdispersion_exponent: 0.3
  leak_dist_factor: 1.0
  leakage_by_celltype:
    Immune: 0.30
    Fibroblast / CAF: 0.10
  leakage_by_gene: {CPA1: 0.2}
  programs:
    - name: acinar
      loading: {PRSS1: 40.0, CPA1: 25.0, CELA3A: 20.0, CTRB2: 15.0, REG1A: 10.0}
    - name: ductal
      loading: {KRT19: 20.0, SOX9: 10.0, MUC1: 12.0, CFTR: 8.0, EPCAM: 15.0, KRT7: 10.0}
    - name: stroma
      loading: {COL1A1: 30.0, COL1A2: 20.0, DCN: 15.0, LUM: 10.0, PDGFRA: 6.0}
    - name: caf
      loading: {FAP: 12.0, POSTN: 15.0}
    - name: immune
      loading: {PTPRC: 15.0, CD3E: 10.0, CD68: 10.0, CD74: 12.0}
    - name: endothelial
      loading: {PECAM1: 15.0, VWF: 20.0, CDH5: 8.0, PLVAP: 10.0}
    - name: mural
      loading: {RGS5: 20.0, ACTA2: 25.0, PDGFRB: 10.0, MYH11: 8.0}
    - name: endocrine
      loading: {INS: 40.0, GCG: 20.0, SST: 10.0, CHGA: 15.0}
  cell_type_specs:
    Exocrine epithelial: {proportion: 0.25, program_activations: {acinar: 1.0}}
    Ductal/tumor epithelial: {proportion: 0.2, program_activations: {ductal: 1.0, acinar: 0.05},
                              activation_sd: {ductal: 0.3}}
    Fibroblast / CAF: {proportion: 0.2, program_activations: {stroma: 1.0, caf: 0.5}, activation_sd: {caf: 0.5}}
    Immune: {proportion: 0.1, program_activations: {immune: 1.0}}
    Endothelial: {proportion: 0.1, program_activations: {endothelial: 1.0}}
    Mural / pericyte: {proportion: 0.05, program_activations: {mural: 1.0}}
    Endocrine: {proportion: 0.1, program_activations: {endocrine: 1.0}, activation_sd: 0.2}
"""


def test_client_gets_counts_leak_flags_and_a_xenium_bundle_without_adapter_code(tmp_path):
    path = tmp_path / "pancreas.yml"
    path.write_text(CLIENT_YAML)
    cfg = SimulationConfig.from_yaml(path)
    assert cfg.n_celltype == 7 and cfg.n_genes == 34
    rng = np.random.default_rng(2024)

    # Counts for the client's own cells (no geometry), then molecules and their leak flags.
    n_per_type = 2_000
    cells = pd.DataFrame({"cell_id": [f"cell_{i}" for i in range(7 * n_per_type)],
                          "celltype": np.repeat(list(cfg.cell_type_specs), n_per_type),
                          "scale": 1.0})
    cells["leakage_percentage"] = cells["celltype"].map(cfg.leakage_by_celltype).fillna(0.0)
    counts = sample_counts_program_model(cells, cfg, rng)
    genes = cfg.resolve_gene_names()
    assert counts.shape == (len(cells), len(genes))
    trs = counts_to_transcript_df(counts, cells["cell_id"].to_numpy(), genes)
    leaked = classify_leakage(trs, cells, build_program_gpar_df(cfg), rng)
    assert leaked.shape == (len(trs),) and leaked.dtype == bool
    immune = (trs["cell_id"].map(cells.set_index("cell_id")["celltype"]) == "Immune").to_numpy()
    assert abs(leaked[immune].mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / immune.sum())

    # Per-type mean molecules per cell against Σ_g m_g.
    expected = expected_program_means(cfg).sum(axis=1)
    got = pd.Series(counts.sum(axis=1)).groupby(cells["celltype"].to_numpy()).mean()
    for name in cfg.celltype_names:
        assert abs(got[name] / expected[name] - 1) < 0.02, (name, got[name], expected[name])

    # A Xenium bundle of a simulated tissue, read back by spatialdata_io.
    bundle = SpotlessSimulator(cfg).run().write_xenium(tmp_path / "xenium")
    sdata = spatialdata_io.xenium(bundle)
    assert sdata.tables["table"].n_obs == cfg.n_cells
    assert set(read_ground_truth(bundle)["cell_gdf"]["celltype"]) == set(cfg.cell_type_specs)
