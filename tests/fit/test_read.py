"""The readers that build a Reference: real data, every format STpuppeteer writes, and bad inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse

from STpuppeteer.cli import main
from STpuppeteer.cli.simulate import FORMAT_PATHS
from STpuppeteer.config import SimulationConfig
from STpuppeteer.fit import (
    is_control_name,
    read_reference,
    reference_from_anndata,
    reference_from_molecules,
)
from STpuppeteer.fit.read import RUN_BUNDLES
from STpuppeteer.io._cosmx_constants import DATASET_ID, CosmxFiles
from STpuppeteer.io._merscope_constants import MerscopeFiles
from STpuppeteer.io.anndata import observed_gene_counts
from STpuppeteer.io.cell_ids import decode_cell_ids
from STpuppeteer.io.ground_truth import read_ground_truth
from STpuppeteer.io.xenium.features import xenium_observed_counts
from STpuppeteer.pipeline.simulator import simulate

REAL = Path(__file__).parents[1] / "data" / "real"
MERFISH = REAL / "merfish_sample"
PBMC = REAL / "pbmc68k_reduced" / "counts.h5ad"
INSTRUMENT = {
    "ambient_rate_per_um2": 0.004,
    "neg_control_probe_rate_per_um2": 0.002,
    "neg_control_codeword_rate_per_um2": 0.001,
    "unassigned_codeword_rate_per_um2": 0.001,
}


@pytest.fixture(scope="module")
def result():
    return simulate(SimulationConfig.from_preset("xenium", seed=1, n_cells=150, instrument=INSTRUMENT))


@pytest.fixture(scope="module")
def bundles(result, tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    return {
        "xenium": result.write_xenium(root / "xenium"),
        "merscope": result.write_merscope(root / "merscope", mosaic_images=False),
        "cosmx": result.write_cosmx(root / "cosmx", composite_images=False),
        "h5ad": result.write_h5ad(root / "sim.h5ad"),
    }


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    main(["simulate", "--preset", "xenium", "--n-cells", "150", "--out", str(out), "--format", "xenium,h5ad",
          "--quiet"])
    return out


@pytest.fixture(scope="module")
def merfish():
    return pd.read_parquet(MERFISH / "molecules.parquet"), pd.read_parquet(MERFISH / "cells.parquet")


def _genes(result) -> list[str]:
    return result.gpar_df["feature_name"].astype(str).tolist()


def _truth_types(result, ids: np.ndarray) -> np.ndarray:
    cell_gdf = result.cell_gdf.set_index("cell_id")
    return cell_gdf.loc[ids, "celltype"].astype(str).to_numpy()


# ---- real data -------------------------------------------------------------------------------


def test_merfish_sample_counts_equal_a_crosstab_of_its_molecules(merfish):
    molecules, cells = merfish
    ref = reference_from_molecules(molecules, cells=cells)
    assert ref.n_cells == 15 and len(ref.genes) == 130
    controls = set(ref.molecules.loc[ref.molecules["is_control"], "gene"].astype(str))
    assert controls == {f"notarget00{i}" for i in range(1, 6)}
    assert not set(ref.genes) & controls
    crosstab = pd.crosstab(molecules["cell_id"], molecules["gene"]).loc[ref.cells.index, ref.genes]
    np.testing.assert_array_equal(ref.counts.toarray(), crosstab.to_numpy())
    # polygons give areas (U-2 OS cells in µm², README) and centroids; two cells have no nucleus
    assert ref.cells["cell_area"].between(774, 1803).all()
    assert ref.cells["nucleus_area"].isna().sum() == 2 and ref.nucleus_polygons is not None
    assert ref.region_area_um2 >= shapely.area(shapely.union_all(ref.cell_polygons))
    assert not any(note.startswith("WARNING") for note in ref.notes)


def test_merfish_overlaps_nucleus_is_computed_from_the_nuclei_when_missing(merfish):
    molecules, cells = merfish
    ref = reference_from_molecules(molecules.drop(columns="overlaps_nucleus"), cells=cells)
    # the stored flag was computed exactly in pixels; in µm a few molecules on an edge may flip
    agree = (ref.molecules["overlaps_nucleus"].to_numpy() == molecules["overlaps_nucleus"].to_numpy()).mean()
    assert agree > 0.999
    assert any("overlaps_nucleus computed" in note for note in ref.notes)


def test_merfish_in_pixels_is_flagged_and_pixel_size_converts_it(merfish):
    molecules, cells = merfish
    pixels = molecules.assign(x=molecules["x"] / 0.1, y=molecules["y"] / 0.1)
    scaled = cells.assign(**{c: shapely.to_wkb(shapely.transform(shapely.from_wkb(cells[c]), lambda xy: xy / 0.1))
                             for c in ("cell_wkb", "nucleus_wkb")})
    flagged = reference_from_molecules(pixels, cells=scaled)
    assert any(note.startswith("WARNING") and "pixels" in note for note in flagged.notes)
    converted = reference_from_molecules(pixels, cells=scaled, pixel_size_um=0.1)
    assert not any(note.startswith("WARNING") for note in converted.notes)
    np.testing.assert_allclose(converted.cells["cell_area"], reference_from_molecules(
        molecules, cells=cells).cells["cell_area"], rtol=1e-9)


def test_pbmc68k_counts_and_types():
    adata = ad.read_h5ad(PBMC)
    ref = read_reference(PBMC, celltype_key="bulk_labels")
    assert ref.counts.shape == (700, 765) and ref.counts.dtype == np.int64
    np.testing.assert_array_equal(ref.counts.toarray(), adata.X.toarray())
    assert ref.celltypes.nunique() == 10
    assert (ref.celltypes.astype(str).to_numpy() == adata.obs["bulk_labels"].astype(str).to_numpy()).all()


# ---- round trips through STpuppeteer's writers -------------------------------------------------


def test_xenium_bundle(result, bundles):
    ref = read_reference(bundles["xenium"], celltype_key="celltype")
    assert ref.n_cells == len(result.cell_gdf) and ref.genes == _genes(result)
    expected = xenium_observed_counts(result)[:, : len(ref.genes)]  # genes first, then the controls
    np.testing.assert_array_equal(ref.counts.toarray(), expected.toarray())
    ids = decode_cell_ids(ref.cells.index.to_numpy(dtype=str))
    cell_gdf = result.cell_gdf.set_index("cell_id").loc[ids]
    np.testing.assert_allclose(ref.cells["cell_area"], cell_gdf["cell_area"], rtol=1e-3)
    np.testing.assert_allclose(ref.cells["nucleus_area"], cell_gdf["nucleus_area"], rtol=1e-3)
    assert (ref.celltypes.astype(str).to_numpy() == _truth_types(result, ids)).all()
    assert len(ref.molecules) == len(result.trs_df)
    assert ref.molecules["is_control"].sum() == is_control_name(result.trs_df["feature_name"]).sum() > 0
    assert ref.molecules["cell_id"].isna().sum() == (result.trs_df["landed_cell_id"] < 0).sum()
    assert {"z", "qv", "overlaps_nucleus"} <= set(ref.molecules.columns)
    assert 0 < ref.region_area_um2 <= np.ptp(result.trs_df["x"]) * np.ptp(result.trs_df["y"])


def test_xenium_transcripts_with_min_qv_count_as_the_cell_feature_matrix(bundles):
    folder = bundles["xenium"]
    matrix = read_reference(folder)
    table = read_reference(folder / "transcripts.parquet", cells=folder / "cells.parquet", min_qv=20)
    assert list(table.cells.index) == list(matrix.cells.index)
    order = pd.Index(table.genes).get_indexer(matrix.genes)
    np.testing.assert_array_equal(table.counts.toarray()[:, order], matrix.counts.toarray())
    np.testing.assert_allclose(table.cells["cell_area"], matrix.cells["cell_area"])


def test_merscope_bundle(result, bundles):
    ref = read_reference(bundles["merscope"], celltype_key="celltype")
    written = pd.read_csv(bundles["merscope"] / MerscopeFiles.COUNTS, index_col=0)
    assert ref.n_cells == len(result.cell_gdf) and ref.genes == _genes(result)
    np.testing.assert_array_equal(ref.counts.toarray(), written.loc[ref.cells.index.astype(int), ref.genes])
    ids = ref.cells.index.astype(int).to_numpy()
    np.testing.assert_allclose(ref.cells["cell_area"], result.cell_gdf.set_index("cell_id").loc[ids, "cell_area"],
                               rtol=1e-3)
    assert (ref.celltypes.astype(str).to_numpy() == _truth_types(result, ids)).all()
    assert any("focal-plane index" in note for note in ref.notes)


def test_merscope_transcripts_csv_as_a_molecule_table(result, bundles):
    ref = read_reference(bundles["merscope"] / MerscopeFiles.TRANSCRIPTS)
    written = pd.read_csv(bundles["merscope"] / MerscopeFiles.COUNTS, index_col=0)
    written = written.loc[written.sum(axis=1) > 0]  # a molecule table knows only cells with molecules
    assert ref.n_cells == len(written)
    np.testing.assert_array_equal(ref.counts.toarray(), written.loc[ref.cells.index.astype(int), ref.genes])


def test_cosmx_bundle(result, bundles):
    ref = read_reference(bundles["cosmx"], celltype_key="celltype")
    written = pd.read_csv(bundles["cosmx"] / f"{DATASET_ID}_{CosmxFiles.COUNTS}")
    written.index = written["cell_ID"].astype(str) + "_" + written["fov"].astype(str)
    assert ref.n_cells == len(written) >= len(result.cell_gdf) and ref.genes == _genes(result)
    np.testing.assert_array_equal(ref.counts.toarray(), written.loc[ref.cells.index, ref.genes])
    # cut cells keep their total area; CosMx rounds each to whole pixels
    np.testing.assert_allclose(ref.cells["cell_area"].sum(), result.cell_gdf["cell_area"].sum(), rtol=1e-3)
    assert ref.celltypes.notna().all()
    assert ref.molecules["overlaps_nucleus"].any() and ref.molecules["cell_id"].isna().any()


def test_cosmx_tx_file_as_a_molecule_table(bundles):
    folder = bundles["cosmx"]
    ref = read_reference(folder / f"{DATASET_ID}_{CosmxFiles.TRANSCRIPTS}")
    metadata = pd.read_csv(folder / f"{DATASET_ID}_{CosmxFiles.METADATA}")
    written = pd.read_csv(folder / f"{DATASET_ID}_{CosmxFiles.COUNTS}").set_index(metadata["cell"].to_numpy())
    written = written.loc[written[ref.genes].sum(axis=1) > 0]
    assert ref.n_cells == len(written)  # "cell" 0 is no cell
    np.testing.assert_array_equal(ref.counts.toarray(), written.loc[ref.cells.index, ref.genes])
    assert any("0.12028 µm per pixel" in note for note in ref.notes)
    # without its "cell" column, cells are named {cell_ID}_{fov} (as spatialdata_io names them)
    tx = pd.read_csv(folder / f"{DATASET_ID}_{CosmxFiles.TRANSCRIPTS}").drop(columns="cell")
    by_fov = read_reference(tx)
    written.index = metadata.set_index("cell").loc[written.index, ["cell_ID", "fov"]].astype(str).agg("_".join, axis=1)
    np.testing.assert_array_equal(by_fov.counts.toarray(), written.loc[by_fov.cells.index, ref.genes])


def test_h5ad_x_is_the_observed_counts_and_true_the_true_ones(result, bundles):
    ref = read_reference(bundles["h5ad"], celltype_key="celltype")
    assert ref.genes == _genes(result)
    np.testing.assert_array_equal(ref.counts.toarray(), observed_gene_counts(result).toarray())
    true = read_reference(bundles["h5ad"], layer="true")
    np.testing.assert_array_equal(true.counts.toarray(), np.asarray(result.count_array))
    assert (ref.celltypes.astype(str).to_numpy() == result.cell_gdf["celltype"].astype(str).to_numpy()).all()
    np.testing.assert_allclose(ref.cells["cell_area"], result.cell_gdf["cell_area"])


def test_a_run_folder_reads_its_xenium_bundle_with_the_true_types(run_folder):
    truth = read_ground_truth(run_folder)
    ref = read_reference(run_folder, celltype_key="celltype")
    assert ref.source.startswith("xenium folder") and ref.source.endswith("xenium")
    assert ref.n_cells == len(truth["cell_gdf"])
    assert ref.genes == truth["gpar_df"]["feature_name"].astype(str).tolist()
    ids = decode_cell_ids(ref.cells.index.to_numpy(dtype=str))
    true_types = truth["cell_gdf"].set_index("cell_id").loc[ids, "celltype"].astype(str).to_numpy()
    assert (ref.celltypes.astype(str).to_numpy() == true_types).all()
    assert any("ground truth" in note for note in ref.notes)
    assert ref.celltypes is not None and read_reference(run_folder).celltypes is None


def test_run_bundles_are_the_clis_folder_names():
    assert set(RUN_BUNDLES) == set(FORMAT_PATHS.values())


# ---- what "no cell" is, and the column names of each format -------------------------------------


def test_no_cell_values():
    table = pd.DataFrame({
        "x_location": np.arange(6.0), "y_location": np.arange(6.0),
        "feature_name": ["A", "A", "B", "B", "A", "NegControlProbe_1"],
        "cell_id": ["c1", "UNASSIGNED", "", None, "-1", "c1"],
    })
    ref = reference_from_molecules(table)
    assert list(ref.cells.index) == ["c1"] and ref.counts.toarray().tolist() == [[1, 0]]
    baysor = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 2.0], "gene": ["A", "A", "A"], "cell": [0, 3, 3]})
    assert list(reference_from_molecules(baysor).cells.index) == ["3"]  # Baysor's 0 is noise
    ours = baysor.rename(columns={"cell": "cell_id"})
    assert list(reference_from_molecules(ours).cells.index) == ["0", "3"]  # STpuppeteer's 0 is a cell


def test_cell_types_from_a_mapping_or_a_molecule_column():
    table = pd.DataFrame({"global_x": [0.0, 1.0, 2.0], "global_y": [0.0, 1.0, 2.0], "gene": ["A", "B", "A"],
                          "cell_id": [1, 1, 2], "type": ["T", "T", "B"]})
    assert reference_from_molecules(table, celltypes={1: "T", 2: "B"}).celltypes.tolist() == ["T", "B"]
    assert read_reference(table, celltype_key="type").celltypes.tolist() == ["T", "B"]


# ---- bad inputs ----------------------------------------------------------------------------------


def _adata(values) -> ad.AnnData:
    return ad.AnnData(np.asarray(values, dtype=float), obs=pd.DataFrame({"type": ["a", "b"]}, index=["c0", "c1"]),
                      var=pd.DataFrame(index=["G1", "G2"]))


def test_non_integer_counts_are_refused_naming_the_layer_value_and_position():
    with pytest.raises(ValueError, match=r"adata.X holds 2.5 at row 1 \(cell 'c1'\), column 0 .*raw counts"):
        reference_from_anndata(_adata([[1, 2], [2.5, 0]]))
    adata = _adata([[1, 2], [2, 0]])
    adata.layers["counts"] = sparse.csr_matrix(np.array([[1, -1], [0, 0]]))
    with pytest.raises(ValueError, match=r"adata.layers\['counts'\] holds -1 at row 0 \(cell 'c0'\), column 1"):
        reference_from_anndata(adata, layer="counts")
    assert reference_from_anndata(_adata([[1.0, 2.0], [2.0, 0.0]])).counts.sum() == 5  # 2.0 is an integer


def test_a_missing_type_column_is_refused_listing_the_columns():
    with pytest.raises(ValueError, match=r"celltype_key='celltype' is not a column of adata.obs.*\['type'\]"):
        read_reference(_adata([[1, 2], [2, 0]]), celltype_key="celltype")


def test_an_empty_molecule_table_is_refused():
    with pytest.raises(ValueError, match=r"molecules is empty"):
        reference_from_molecules(pd.DataFrame(columns=["x", "y", "gene", "cell_id"]))


def test_a_table_without_x_is_refused_naming_the_field():
    table = pd.DataFrame({"y": [1.0], "gene": ["A"], "cell_id": ["c"]})
    with pytest.raises(ValueError, match=r"molecules has no x column: looked for \['global_x', 'x_location'"):
        read_reference(table)


def test_unknown_inputs_are_refused_listing_what_is_accepted(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"path_or_object='.*notes.txt' is not an input .* allowed are an AnnData"):
        read_reference(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match=r"is not an input read_reference knows"):
        read_reference(tmp_path)
    with pytest.raises(ValueError, match=r"path_or_object=list is not an input"):
        read_reference([1, 2])
    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        read_reference(tmp_path / "missing.h5ad")
    with pytest.raises(ValueError, match=r"layer='counts' does not apply to a molecule table"):
        read_reference(pd.DataFrame({"x": [0.0], "y": [0.0], "gene": ["A"], "cell_id": ["c"]}), layer="counts")


def test_importing_fit_loads_no_reader():
    code = ("import sys, STpuppeteer.fit; "
            "print(sorted(m for m in ('anndata', 'spatialdata', 'spatialdata_io') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
