"""The Xenium bundle, read back with the real ``spatialdata_io.xenium``."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from STpuppeteer.io.cell_ids import UNASSIGNED, decode_cell_ids, encode_cell_ids
from STpuppeteer.io.xenium import _constants as xc
from STpuppeteer.io.xenium import write_xenium
from synthetic_result import full_resolution, make_synthetic_result

spatialdata_io = pytest.importorskip("spatialdata_io")

def read_xenium(path):
    return spatialdata_io.xenium(path)


@pytest.fixture(scope="module")
def small():
    """The hand-built result alone, for tests of the writing mechanics."""
    return make_synthetic_result(3)


@pytest.fixture(scope="module", params=["synthetic", "simulated"])
def synthetic(request):
    """The hand-built result, and a real small simulation through every stage."""
    if request.param == "synthetic":
        return make_synthetic_result(3)
    from STpuppeteer.simulation import SimulationConfig, SpotlessSimulator

    return SpotlessSimulator(SimulationConfig.from_preset("xenium", seed=4, n_cells=300)).run()


@pytest.fixture(scope="module")
def bundle(synthetic, tmp_path_factory):
    return write_xenium(synthetic, tmp_path_factory.mktemp("xenium") / "bundle")


@pytest.fixture(scope="module")
def sdata(bundle):
    return read_xenium(bundle)


def test_bundle_has_the_xenium_files(bundle):
    names = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    for f in xc.XeniumFiles:
        if f == xc.XeniumFiles.MORPHOLOGY_FOCUS_DIR:
            continue
        if f == xc.XeniumFiles.MORPHOLOGY_FOCUS_IMAGE:
            f = f"{xc.XeniumFiles.MORPHOLOGY_FOCUS_DIR}/{f.format(0)}"
        assert f in names
    assert any(name.startswith("ground_truth/") for name in names)  # the truth no instrument writes
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["format"] == "xenium"
    assert set(manifest["files"]) == names - {"manifest.json"}
    assert not [p for p in bundle.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_transcripts_read_back(synthetic, sdata):
    trs = synthetic.trs_df.sort_values("transcript_id")
    points = sdata.points["transcripts"].compute().sort_values("transcript_id")
    assert len(points) == len(trs)
    np.testing.assert_array_equal(points["transcript_id"].to_numpy(), trs["transcript_id"].to_numpy())
    np.testing.assert_allclose(points["x"].to_numpy(), trs["x"].to_numpy(), atol=1e-4)
    np.testing.assert_allclose(points["y"].to_numpy(), trs["y"].to_numpy(), atol=1e-4)
    np.testing.assert_allclose(points["z"].to_numpy(), trs["z"].to_numpy(), atol=1e-4)
    assert (points["feature_name"].astype(str).to_numpy() == trs["feature_name"].to_numpy()).all()
    # the instrument's cell_id is the cell containing the molecule, not its source
    landed = decode_cell_ids(points["cell_id"].astype(str).to_numpy())
    np.testing.assert_array_equal(landed, trs["landed_cell_id"].to_numpy())
    assert (points["cell_id"].astype(str) == UNASSIGNED).sum() == (trs["landed_cell_id"] < 0).sum()
    assert (landed != trs["cell_id"].to_numpy()).any()  # ambient (and leaked) molecules differ
    np.testing.assert_array_equal(points["overlaps_nucleus"].to_numpy(), in_a_nucleus(synthetic, trs).astype(np.uint8))


def in_a_nucleus(result, trs: pd.DataFrame) -> np.ndarray:
    """Whether each molecule's position lies in some nucleus (the instrument's overlaps_nucleus)."""
    points = shapely.points(trs["x"].to_numpy(), trs["y"].to_numpy())
    hit, _ = shapely.STRtree(np.asarray(result.cell_gdf["nucleus"].values)).query(points, predicate="intersects")
    inside = np.zeros(len(trs), dtype=bool)
    inside[hit] = True
    return inside


def test_nucleus_distance_is_zero_inside_a_nucleus(synthetic, bundle):
    tab = pq.read_table(bundle / "transcripts.parquet").to_pandas().sort_values("transcript_id")
    inside = in_a_nucleus(synthetic, synthetic.trs_df.sort_values("transcript_id"))
    assert (tab["nucleus_distance"].to_numpy()[inside] == 0).all()
    assert (tab["nucleus_distance"].to_numpy()[~inside] > 0).all()
    assert tab["fov_name"].str.match(r"^[A-Z]+\d+$").all()


def test_cell_table_counts_are_the_observed_counts(synthetic, sdata):
    table = sdata.tables["table"]
    cell_gdf, trs = synthetic.cell_gdf, synthetic.trs_df
    assert table.n_obs == len(cell_gdf)
    np.testing.assert_array_equal(decode_cell_ids(table.obs["cell_id"].to_numpy()), cell_gdf["cell_id"])
    genes = synthetic.gpar_df["feature_name"].tolist()
    assert table.var_names.tolist() == genes  # gex_only: controls are not Gene Expression
    observed = trs[(trs["landed_cell_id"] >= 0) & (trs["qv"] >= 20) & trs["feature_name"].isin(genes)]
    expected = (
        pd.crosstab(observed["landed_cell_id"], observed["feature_name"])
        .reindex(index=cell_gdf["cell_id"], columns=genes, fill_value=0)
        .to_numpy()
    )
    np.testing.assert_array_equal(table.X.toarray(), expected)
    assert table.obs["transcript_counts"].to_numpy().tolist() == expected.sum(axis=1).tolist()
    controls = trs[(trs["landed_cell_id"] >= 0) & (trs["qv"] >= 20) & trs["origin"].eq("control")]
    assert table.obs["total_counts"].sum() == expected.sum() + len(controls)
    np.testing.assert_allclose(table.obsm["spatial"], cell_gdf[["x", "y"]].to_numpy())


def test_controls_have_their_feature_types(synthetic, bundle):
    import scanpy as sc

    adata = sc.read_10x_h5(bundle / "cell_feature_matrix.h5", gex_only=False)
    expected = {
        "NegControlProbe": "Negative Control Probe",
        "NegControlCodeword": "Negative Control Codeword",
        "UnassignedCodeword": "Unassigned Codeword",
    }
    types = adata.var["feature_types"]
    genes = set(synthetic.gpar_df["feature_name"])
    controls = sorted(set(synthetic.trs_df["feature_name"].astype(str)) - genes)
    assert controls
    assert adata.var_names.tolist() == synthetic.gpar_df["feature_name"].tolist() + controls
    for name in controls:
        assert types[name] == expected[name.split("_")[0]]
    assert (types[list(genes)] == "Gene Expression").all()


def test_polygons_read_back(synthetic, sdata):
    cell_gdf = synthetic.cell_gdf
    # shapes keep µm; their transformation to the (pixel) global frame scales by 1 / pixel_size
    cells = sdata.shapes["cell_boundaries"]
    assert len(cells) == len(cell_gdf)
    np.testing.assert_array_equal(decode_cell_ids(cells.index.to_numpy()), cell_gdf["cell_id"])
    np.testing.assert_allclose(cells.area.to_numpy(), cell_gdf["cell_area"], rtol=1e-4)
    nuclei = sdata.shapes["nucleus_boundaries"]
    np.testing.assert_allclose(nuclei.area.to_numpy(), cell_gdf["nucleus_area"], rtol=1e-4)
    np.testing.assert_array_equal(decode_cell_ids(nuclei["cell_id"].to_numpy()), cell_gdf["cell_id"])


def test_label_masks_match_the_polygons(synthetic, sdata):
    cell_gdf = synthetic.cell_gdf
    mask = full_resolution(sdata.labels["cell_labels"])
    counts = np.bincount(mask.ravel(), minlength=len(cell_gdf) + 1)[1:]
    np.testing.assert_allclose(counts * xc.PIXEL_SIZE**2, cell_gdf["cell_area"], rtol=0.05)
    # the table's cell_labels column points each row to its label in the mask
    table = sdata.tables["table"]
    np.testing.assert_array_equal(table.obs["cell_labels"].to_numpy(), np.arange(1, len(cell_gdf) + 1))
    # the label under a cell's centroid is that cell's
    cols = (cell_gdf["x"].to_numpy() / xc.PIXEL_SIZE).astype(int)
    rows = (cell_gdf["y"].to_numpy() / xc.PIXEL_SIZE).astype(int)
    np.testing.assert_array_equal(mask[rows, cols], np.arange(1, len(cell_gdf) + 1))


@pytest.mark.filterwarnings("ignore:.*reading array from closed file:UserWarning")
def test_morphology_image_is_read(synthetic, sdata):
    from spatialdata.models import get_channel_names

    # the hand-built result's config is the default (DAPI alone), the simulation's the Xenium preset (four stains)
    expected = xc.MULTIMODAL_CHANNEL_NAMES if synthetic.config.images.xenium_stains == "multimodal" else ("DAPI",)
    assert list(get_channel_names(sdata.images["morphology_focus"])) == list(expected)
    nuclei = full_resolution(sdata.labels["nucleus_labels"]) > 0
    dapi = full_resolution(sdata.images["morphology_focus"])[0]
    assert dapi.shape == nuclei.shape
    assert np.median(dapi[nuclei]) > 4 * np.median(dapi[~nuclei])


# XOA 2.x keeps one channel per file; the reader (pims via dask-image) reads the planes of
# files 1-3 after tifffile has closed them while parsing file 0's OME-XML, and tifffile
# reopens them with this warning. Real multimodal Xenium data do the same.
@pytest.mark.filterwarnings("ignore:.*reading array from closed file:UserWarning")
def test_multimodal_stains(small, tmp_path):
    from spatialdata.models import get_channel_names

    out = write_xenium(small, tmp_path / "mm", multimodal=True)
    sdata = read_xenium(out)
    image = sdata.images["morphology_focus"]
    assert list(get_channel_names(image)) == list(xc.MULTIMODAL_CHANNEL_NAMES)
    pixels = full_resolution(image)
    cells = full_resolution(sdata.labels["cell_labels"])
    nuclei = full_resolution(sdata.labels["nucleus_labels"]) > 0
    # DAPI is the same image as without the other stains; the RNA stain fills the cytoplasm
    plain = full_resolution(read_xenium(write_xenium(small, tmp_path / "plain")).images["morphology_focus"])
    np.testing.assert_array_equal(pixels[0], plain[0])
    cytoplasm = (cells > 0) & ~nuclei
    assert np.median(pixels[2][cytoplasm]) > 2 * np.median(pixels[2][cells == 0])


@pytest.mark.filterwarnings("ignore:.*reading array from closed file:UserWarning")
def test_stains_follow_the_config(small, tmp_path):
    """``images.xenium_stains`` picks the files of ``morphology_focus/``; ``multimodal=`` overrides it."""
    from spatialdata.models import get_channel_names

    def files(out):
        return sorted(p.name for p in (out / xc.XeniumFiles.MORPHOLOGY_FOCUS_DIR).iterdir())

    multimodal = small.config.model_copy(
        update={"images": small.config.images.model_copy(update={"xenium_stains": "multimodal"})}
    )
    four = write_xenium(dataclasses.replace(small, config=multimodal), tmp_path / "four")
    assert files(four) == [xc.XeniumFiles.MORPHOLOGY_FOCUS_IMAGE.format(i) for i in range(4)]
    names = get_channel_names(read_xenium(four).images["morphology_focus"])
    assert list(names) == list(xc.MULTIMODAL_CHANNEL_NAMES)
    one = write_xenium(dataclasses.replace(small, config=multimodal), tmp_path / "one", multimodal=False)
    assert files(one) == [xc.XeniumFiles.MORPHOLOGY_FOCUS_IMAGE.format(0)]


@pytest.mark.filterwarnings("ignore:.*reading array from closed file:UserWarning")
def test_pyramid_levels(small, tmp_path):
    """``images.xenium_pyramid_levels`` adds halved sub-resolutions; the reader still reads the full one."""
    import tifffile

    config = small.config.model_copy(
        update={"images": small.config.images.model_copy(update={"xenium_pyramid_levels": 2})}
    )
    out = write_xenium(dataclasses.replace(small, config=config), tmp_path / "pyramid")
    plain = write_xenium(small, tmp_path / "plain")
    file = f"{xc.XeniumFiles.MORPHOLOGY_FOCUS_DIR}/{xc.XeniumFiles.MORPHOLOGY_FOCUS_IMAGE.format(0)}"
    with tifffile.TiffFile(out / file) as tif:
        shapes = [level.shape for level in tif.series[0].levels]
        full = tif.pages[0].asarray()
        half = tif.series[0].levels[1].asarray()
    assert shapes[1:] == [(shapes[0][0] // 2, shapes[0][1] // 2), (shapes[0][0] // 4, shapes[0][1] // 4)]
    np.testing.assert_array_equal(full, tifffile.imread(plain / file))
    rows, cols = half.shape
    expected = full[: 2 * rows, : 2 * cols].reshape(rows, 2, cols, 2).mean(axis=(1, 3))
    assert np.abs(half - expected).max() <= 0.5
    np.testing.assert_array_equal(full_resolution(read_xenium(out).images["morphology_focus"])[0], full)


def test_existing_path_is_refused(synthetic, bundle):
    before = (bundle / "manifest.json").read_text()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_xenium(synthetic, bundle)
    assert (bundle / "manifest.json").read_text() == before


def test_overwrite_replaces(small, tmp_path):
    out = tmp_path / "b"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    (out / "manifest.json").write_text("{}")  # a folder STpuppeteer wrote (only those are replaced)
    write_xenium(small, out, overwrite=True)
    assert not (out / "stale.txt").exists()
    assert (out / "transcripts.parquet").exists()


def test_failure_mid_write_leaves_nothing(small, tmp_path, monkeypatch):
    from STpuppeteer.io.xenium import XeniumBundle

    def boom(*args, **kwargs):
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(XeniumBundle, "write_morphology", boom)
    with pytest.raises(OSError, match="disk full"):
        write_xenium(small, tmp_path / "bundle")
    assert list(tmp_path.iterdir()) == []


def test_too_large_raster_is_refused_before_writing(small, tmp_path):

    far = small.trs_df.copy()
    far.loc[far.index[0], ["x", "y"]] = 20_000.0  # one molecule 2 cm away: a raster of ~10^10 pixels
    with pytest.raises(ValueError, match="smaller tile"):
        write_xenium(dataclasses.replace(small, trs_df=far), tmp_path / "bundle")
    assert list(tmp_path.iterdir()) == []


def test_cell_id_codes_round_trip():
    ids = np.array([0, 1, 15, 16, 2**32 - 1, -1])
    codes = encode_cell_ids(ids)
    assert codes.tolist() == ["aaaaaaaa-1", "aaaaaaab-1", "aaaaaaap-1", "aaaaaaba-1", "pppppppp-1", UNASSIGNED]
    np.testing.assert_array_equal(decode_cell_ids(codes), ids)
    with pytest.raises(ValueError, match="cell_ids"):
        encode_cell_ids(np.array([-2]))
    with pytest.raises(ValueError, match="malformed"):
        decode_cell_ids(np.array(["aaaaqaaa-1"]))


def test_non_ascii_gene_names_are_refused_before_writing_and_other_formats_keep_them(tmp_path):
    # Found by the random-config property test: 'Génè' passed the config, then crashed in h5py.
    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.pipeline.simulator import simulate
    from STpuppeteer.pipeline.streamed import simulate_to_xenium

    cfg = SimulationConfig(n_cells=30, programs=[{"name": "p", "loading": {"Génè": 3, "B": 2}}],
                           cell_type_specs={"T": {"program_activations": {"p": 1.0}}})
    result = simulate(cfg)
    for write in (lambda out: write_xenium(result, out), lambda out: simulate_to_xenium(cfg, out, images=False)):
        with pytest.raises(ValueError, match=r"gene names \['Génè'\].*not ASCII.*another format"):
            write(tmp_path / "x")
        assert not (tmp_path / "x").exists()
    assert list(result.to_anndata().var_names) == ["Génè", "B"]
