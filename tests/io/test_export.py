"""``stpuppeteer export`` and ``io.read_assignment``: each tool's input format, and its output read back.

Baysor and Proseg are not on PyPI, so their inputs are checked against their documented formats
and ``read_assignment`` against small files written in each tool's documented output format
(the sources are named at each test). ComSeg runs for real in tests/metrics/test_scoring.py.
"""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from STpuppeteer.cli import main
from STpuppeteer.cli.export import EXPORT_TOOLS
from STpuppeteer.io import read_assignment, read_result, write_export
from STpuppeteer.io.export import COMMAND, TOOLS
from STpuppeteer.io.export._molecules import export_molecules
from STpuppeteer.metrics import nucleus_assignment, score
from STpuppeteer.metrics.baselines import assign_by_polygons

if TYPE_CHECKING:
    from pathlib import Path

# The instrument-like columns every export may carry: nothing of the truth.
TRUTH_COLUMNS = {"cell_id", "celltype", "origin", "landed_cell_id", "compartment", "true_feature_name"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 60-cell run with ambient molecules and negative controls, written by the CLI."""
    d = tmp_path_factory.mktemp("export") / "run"
    assert (
        main(
            [
                "simulate",
                "--preset",
                "xenium",
                "--n-cells",
                "60",
                "--seed",
                "3",
                "--out",
                str(d),
                "--format",
                "h5ad",
                "--quiet",
            ]
        )
        == 0
    )
    return d


@pytest.fixture(scope="module")
def truth(run: Path):
    return read_result(run)


@pytest.fixture(scope="module")
def prior(truth) -> pd.Series:
    """The floor baseline (nucleus containing each scored molecule), by transcript_id."""
    floor = nucleus_assignment(truth)
    scored = (truth.trs_df["origin"] != "control").to_numpy()
    return pd.Series(floor["cell_id"].to_numpy()[scored], index=floor["transcript_id"].to_numpy()[scored])


def test_the_cli_lists_the_tools_export_knows() -> None:
    assert EXPORT_TOOLS == TOOLS


def test_the_prior_is_the_floor_baseline_and_controls_are_dropped(truth, prior) -> None:
    molecules = export_molecules(truth)
    assert molecules.n_dropped_controls == int((truth.trs_df["origin"] == "control").sum()) > 0
    assert molecules.trs_df["transcript_id"].tolist() == prior.index.tolist()
    assert np.array_equal(molecules.trs_df["nucleus_id"].to_numpy(), prior.to_numpy())
    assert (prior >= 0).any() and (prior < 0).any()


def test_baysor_input_has_its_columns_and_a_zero_based_prior(run, truth, prior, tmp_path) -> None:
    # Baysor docs/src/segmentation.md: prior column of integer cells, 0 = no assignment, passed as :column.
    folder = write_export(run, "baysor", tmp_path / "b")
    table = pd.read_csv(folder / "molecules.csv")
    assert list(table.columns) == ["transcript_id", "x", "y", "gene", "prior_segmentation"]
    assert pd.api.types.is_integer_dtype(table["prior_segmentation"])
    assert np.array_equal(table["prior_segmentation"].to_numpy(), prior.to_numpy() + 1)
    command = (folder / COMMAND).read_text()
    assert command.startswith("baysor run -x x -y y -g gene -m ")
    assert command.rstrip().endswith(f"{folder / 'molecules.csv'} :prior_segmentation")
    assert "--prior-segmentation-confidence 0.8" in command and str(tmp_path) in command
    assert not TRUTH_COLUMNS & set(table.columns)


def test_proseg_input_has_the_columns_its_flags_name(run, prior, tmp_path) -> None:
    # Proseg src/main.rs: --cell-id-column/--cell-id-unassigned, --compartment-column/--compartment-nuclear.
    folder = write_export(run, "proseg", tmp_path / "p")
    with gzip.open(folder / "transcripts.csv.gz", "rt") as fh:
        table = pd.read_csv(fh)
    assert list(table.columns) == ["transcript_id", "x", "y", "z", "feature_name", "nucleus_id", "overlaps_nucleus"]
    assert np.array_equal(table["nucleus_id"].to_numpy(), prior.to_numpy())
    assert np.array_equal(table["overlaps_nucleus"].to_numpy(), (prior.to_numpy() >= 0).astype(int))
    command = (folder / COMMAND).read_text()
    for flag in (
        "--gene-column feature_name",
        "--transcript-id-column transcript_id",
        "--cell-id-column nucleus_id",
        "--cell-id-unassigned -1",
        "--compartment-column overlaps_nucleus",
        "--compartment-nuclear 1",
        "--output-transcript-metadata transcript-metadata.csv.gz",
    ):
        assert flag in command
    assert (folder / "proseg").is_dir()


def test_comseg_input_has_spots_and_centroids_with_the_same_labels(run, truth, prior, tmp_path) -> None:
    folder = write_export(run, "comseg", tmp_path / "c")
    spots = pd.read_csv(folder / "spots" / "tile.csv")
    centroids = pd.read_csv(folder / "centroids" / "tile.csv")
    assert list(spots.columns) == ["transcript_id", "x", "y", "gene", "in_nucleus"]
    assert list(centroids.columns) == ["x", "y", "in_nucleus"]
    assert np.array_equal(spots["in_nucleus"].to_numpy(), prior.to_numpy() + 1)
    assert sorted(centroids["in_nucleus"]) == sorted(truth.cell_gdf["cell_id"] + 1)
    script = folder / "run_comseg.py"
    assert (folder / COMMAND).read_text().split() == ["python", str(script.resolve())]
    code = script.read_text()
    compile(code, "run_comseg.py", "exec")  # the script is Python
    assert 'prior_name="in_nucleus"' in code and "df_spots" in code


def test_sopa_store_holds_no_truth_and_reads_back_through_its_shapes(run, truth, tmp_path) -> None:
    spatialdata = pytest.importorskip("spatialdata")
    import geopandas as gpd
    from spatialdata.models import ShapesModel
    from spatialdata.transformations import Identity

    folder = write_export(run, "sopa", tmp_path / "s")
    store = folder / "sopa.zarr"
    sdata = spatialdata.read_zarr(store)
    assert list(sdata.shapes) == ["nucleus_boundaries"] and not sdata.tables and not sdata.labels
    assert set(sdata.points["transcripts"].columns) == {"transcript_id", "x", "y", "z", "feature_name"}
    image = next(iter(sdata.images.values()))
    image = image["scale0"].image if hasattr(image, "keys") else image  # a multiscale image is a DataTree
    assert image.dims == ("c", "y", "x") and np.issubdtype(image.dtype, np.integer)  # sopa's sanity_check
    # What a Sopa segmentation adds: shapes "baysor_boundaries". With the true cells, the read-back
    # assignment is each molecule's true polygon.
    cells = gpd.GeoDataFrame(geometry=list(truth.cell_gdf.geometry), index=truth.cell_gdf["cell_id"].to_numpy())
    sdata.shapes["baysor_boundaries"] = ShapesModel.parse(cells, transformations={"global": Identity()})
    sdata.write_element("baysor_boundaries")
    table = read_assignment(folder, tool="sopa")
    by_polygons = assign_by_polygons(truth.trs_df, truth.cell_gdf.geometry.to_numpy(), truth.cell_gdf["cell_id"])
    expected = by_polygons.set_index("transcript_id")["cell_id"].reindex(table["transcript_id"]).to_numpy()
    assert np.array_equal(table["cell_id"].to_numpy(), expected) and (expected >= 0).mean() > 0.5


def test_baysor_output_reads_back_and_scores_through_the_cli(run, truth, prior, tmp_path, capsys) -> None:
    # Baysor docs/src/segmentation.md "Outputs": segmentation.csv, one row per molecule, input columns
    # kept, plus confidence, cell ("" = noise), cluster, assignment_confidence, is_noise, ncv_color.
    # Here Baysor "returns" the nuclei: the scores must then be the floor baseline's.
    folder = write_export(run, "baysor", tmp_path / "b")
    molecules = pd.read_csv(folder / "molecules.csv")
    cell = np.where(molecules["prior_segmentation"] > 0, "CRab12-" + molecules["prior_segmentation"].astype(str), "")
    out = molecules.assign(
        confidence=0.9, cell=cell, cluster=1, assignment_confidence=0.8, is_noise=cell == "", ncv_color="#AABBCC"
    )
    out.to_csv(folder / "segmentation.csv", index=False)
    table = read_assignment(folder / "segmentation.csv", tool="baysor")
    assert table["cell_id"].isna().sum() == int((prior < 0).sum())
    floor = score(truth, assignment=nucleus_assignment(truth))["assignment"]
    assert score(truth, assignment=table)["assignment"] == pytest.approx(floor)
    assert (
        main(
            [
                "score",
                "--truth",
                str(run),
                "--pred",
                str(folder / "segmentation.csv"),
                "--tool",
                "baysor",
                "--json",
                str(tmp_path / "s.json"),
            ]
        )
        == 0
    )
    import json

    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["prediction"]["assignment"]["accuracy"] == pytest.approx(doc["floor"]["assignment"]["accuracy"])
    assert "prediction" in capsys.readouterr().out


def test_proseg_output_reads_back_in_both_of_its_unassigned_forms(tmp_path) -> None:
    # Proseg src/schemas.rs transcript_metadata_schema: transcript_id, x, y, z, observed_x/y/z, gene,
    # assignment (nullable u32: empty when unassigned), background. Before 2.0: u32::MAX for none.
    rows = pd.DataFrame(
        {
            "transcript_id": [5, 6, 7],
            "x": 1.0,
            "y": 1.0,
            "z": 0.0,
            "observed_x": 1.0,
            "observed_y": 1.0,
            "observed_z": 0.0,
            "gene": ["A", "B", "A"],
            "assignment": [3, None, 4294967295],
            "background": [False, True, True],
        }
    )
    rows.to_csv(tmp_path / "transcript-metadata.csv.gz", index=False)
    table = read_assignment(tmp_path / "transcript-metadata.csv.gz", tool="proseg")
    assert table.to_dict("list") == {"transcript_id": [5, 6, 7], "cell_id": [3, -1, -1]}
    rows.assign(assignment=pd.array([3, None, None], dtype="UInt32")).to_parquet(tmp_path / "t.parquet")
    assert read_assignment(tmp_path / "t.parquet", tool="proseg")["cell_id"].tolist() == [3, -1, -1]


def test_comseg_output_reads_back_to_our_cell_ids(tmp_path) -> None:
    # ComSeg model.py get_anndata_from_result: uns["df_spots"] keeps every input column and adds
    # cell_index_pred (the prior label of the joined nucleus, 0 for none).
    spots = pd.DataFrame(
        {
            "x": [1.0, 2.0],
            "y": [1.0, 2.0],
            "gene": ["A", "B"],
            "transcript_id": [10, 11],
            "in_nucleus": [4, 0],
            "cell_index_pred": [4, 0],
        }
    )
    spots.to_csv(tmp_path / "comseg_spots.csv", index=False)
    assert read_assignment(tmp_path, tool="comseg")["cell_id"].tolist() == [3, -1]


def test_wrong_inputs_are_refused_with_the_allowed_values(run, tmp_path, capsys) -> None:
    with pytest.raises(ValueError, match="tool='cellpose' is not allowed; choose one of baysor"):
        write_export(run, "cellpose", tmp_path / "x")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_assignment(tmp_path / "missing.csv", tool="baysor")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="lacks"):
        read_assignment(tmp_path / "bad.csv", tool="baysor")
    assert main(["export", str(tmp_path), "--to", "baysor"]) == 2
    assert "no ground_truth/" in capsys.readouterr().err


def test_the_cli_writes_the_export_beside_the_run_and_prints_the_command(run, capsys) -> None:
    assert main(["export", str(run), "--to", "proseg"]) == 0
    out = capsys.readouterr().out
    assert (run / "export_proseg" / "README.md").is_file() and "proseg --gene-column" in out
