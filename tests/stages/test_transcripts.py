import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from STpuppeteer._random import stage_rng
from STpuppeteer.config import SimulationConfig
from STpuppeteer.geometry.locate import CellLocator
from STpuppeteer.geometry.star import StarPolygons
from STpuppeteer.simulation import SpotlessSimulator
from STpuppeteer.stages.transcripts import (
    classify_leakage,
    counts_to_transcript_df,
    generate_transcripts,
    leak_probability,
)

SEEDS = [0, 1, 2]
TRS_COLUMNS = ["transcript_id", "x", "y", "z", "feature_name", "cell_id", "celltype", "origin",
               "landed_cell_id", "compartment", "overlaps_nucleus", "qv"]


# ---------------------------------------------------------------------------------------
# A small synthetic tissue, independent of the tissue stage
# ---------------------------------------------------------------------------------------
def synthetic_cells(n_side=12, spacing=20.0, seed=0, first_id=0):
    """Jittered grid of nuclei (ellipses), cells = Voronoi ∩ nucleus buffered by 6 µm."""
    rng = np.random.default_rng(seed)
    g = np.arange(n_side) * spacing
    xy = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2) + rng.uniform(-3, 3, (n_side * n_side, 2))
    n = len(xy)
    circles = shapely.buffer(shapely.points(xy), 1.0, quad_segs=8)
    a, b, ang = rng.uniform(3.5, 5.0, n), rng.uniform(2.5, 3.5, n), rng.uniform(0, 180, n)
    nuclei = np.array([shapely.affinity.rotate(shapely.affinity.scale(c, ai, bi), t)
                       for c, ai, bi, t in zip(circles, a, b, ang, strict=True)])
    vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), ordered=True))
    cells = shapely.intersection(vor, shapely.buffer(nuclei, 6.0, quad_segs=4))
    return gpd.GeoDataFrame({
        "cell_id": np.arange(n) + first_id,
        "celltype": np.array(["ct_0", "ct_1", "ct_2"])[rng.integers(0, 3, n)],
        "x": xy[:, 0], "y": xy[:, 1], "z": np.full(n, 2.5),
        "nucleus_area": shapely.area(nuclei), "cell_area": shapely.area(cells),
        "scale": np.ones(n), "leakage_percentage": np.where(np.arange(n) % 2 == 0, 0.3, 0.0),
        "nucleus": gpd.GeoSeries(nuclei),
    }, geometry=gpd.GeoSeries(cells))


def _run(seed, cell_gdf=None, **fields):
    cfg = SimulationConfig(seed=seed, n_cells=len(cell_gdf) if cell_gdf is not None else 400, **fields)
    sim = SpotlessSimulator(cfg)
    sim.generate_gene_parameters()
    if cell_gdf is not None:
        sim.cell_gdf = cell_gdf
    return sim.run()


def _rows(cell_gdf, ids):
    return pd.Index(cell_gdf["cell_id"]).get_indexer(np.asarray(ids))


LEAKY = {"leakage_by_gene": 0.1, "expression_scale": 3.0}


@pytest.fixture(scope="module", params=SEEDS)
def leaky(request):
    cells = synthetic_cells(seed=request.param, first_id=100)
    return _run(request.param, cells, **LEAKY)


# ---------------------------------------------------------------------------------------
# Truth of placement
# ---------------------------------------------------------------------------------------
def test_columns_and_dtypes(leaky):
    trs = leaky.trs_df
    assert list(trs.columns[: len(TRS_COLUMNS)]) == TRS_COLUMNS
    assert (trs["transcript_id"].to_numpy() == np.arange(len(trs))).all()
    assert set(trs["origin"].cat.categories) == {"cell", "leaked", "ambient", "control"}
    assert set(trs["compartment"].cat.categories) == {"nucleus", "cytoplasm", "extracellular"}
    assert trs["overlaps_nucleus"].dtype == bool
    assert ((trs["z"] >= 0) & (trs["z"] <= 10.0)).all()


def test_cell_molecules_lie_in_their_cell_and_compartment(leaky):
    trs, cells = leaky.trs_df, leaky.cell_gdf
    own = trs[trs["origin"] == "cell"]
    rows = _rows(cells, own["cell_id"])
    x, y = own["x"].to_numpy(), own["y"].to_numpy()
    assert shapely.intersects_xy(cells.geometry.values[rows], x, y).all()
    in_nuc = shapely.intersects_xy(cells["nucleus"].values[rows], x, y)
    np.testing.assert_array_equal(in_nuc, own["compartment"].to_numpy() == "nucleus")
    assert (own["landed_cell_id"] == own["cell_id"]).all()
    np.testing.assert_array_equal(own["celltype"].astype(str), cells["celltype"].to_numpy()[rows])


def test_leaked_molecules_lie_outside_their_cell_and_land_truly(leaky):
    trs, cells = leaky.trs_df, leaky.cell_gdf
    leaked = trs[trs["origin"] == "leaked"]
    assert len(leaked) > 100
    rows = _rows(cells, leaked["cell_id"])
    x, y = leaked["x"].to_numpy(), leaked["y"].to_numpy()
    assert not shapely.intersects_xy(cells.geometry.values[rows], x, y).any()
    # The landing cell agrees with shapely's spatial index.
    tree = shapely.STRtree(cells.geometry.values)
    pi, ci = tree.query(shapely.points(x, y), predicate="intersects")
    truth = np.full(len(leaked), -1)
    truth[pi] = cells["cell_id"].to_numpy()[ci]
    np.testing.assert_array_equal(leaked["landed_cell_id"].to_numpy(), truth)
    landed = truth >= 0
    in_nuc = np.zeros(len(leaked), dtype=bool)
    in_nuc[landed] = shapely.intersects_xy(cells["nucleus"].values[_rows(cells, truth[landed])], x[landed], y[landed])
    np.testing.assert_array_equal(leaked["overlaps_nucleus"].to_numpy(), in_nuc)
    expected = np.where(~landed, "extracellular", np.where(in_nuc, "nucleus", "cytoplasm"))
    np.testing.assert_array_equal(leaked["compartment"].astype(str).to_numpy(), expected)


def test_leak_distance_is_bounded_by_the_truncation(leaky):
    trs, cells = leaky.trs_df, leaky.cell_gdf
    leaked = trs[trs["origin"] == "leaked"]
    rows = _rows(cells, leaked["cell_id"])
    dist = shapely.distance(cells.geometry.values[rows], shapely.points(leaked["x"], leaked["y"]))
    radius = np.sqrt(cells["cell_area"].to_numpy()[rows] / np.pi)
    cfg = leaky.config
    # Distance along the ray is at most the cut-off; the distance to the polygon is at most that.
    assert (dist <= cfg.leak_dist_factor * cfg.transcripts.leak_max_factor * radius + 1e-9).all()
    assert dist.min() > 0


@pytest.mark.parametrize(("factor", "cut"), [(1.05, 3.0), (2.0, 1.5)])
def test_leak_halo_holds_97_percent_within_its_reach(factor, cut):
    """Upstream semantics: the halo reaches factor × radius and 97 % of leaked molecules land within it."""
    from STpuppeteer.stages.transcripts.leakage import leak_distances, leak_reach

    cfg = SimulationConfig(leak_dist_factor=factor, transcripts={"leak_max_factor": cut})
    n = 200_000
    radius = np.full(n, 4.0)
    dist = leak_distances(radius, np.random.default_rng(3).random(n), config=cfg)
    within = (dist <= factor * radius).mean()
    expected = 0.97 / (1 - 0.03**cut)  # the exponential, truncated at cut reaches
    assert abs(within - expected) < 5 * np.sqrt(expected * (1 - expected) / n)
    assert dist.max() <= cut * factor * 4.0
    assert (leak_reach(np.pi * radius[:1] ** 2, config=cfg) > cut * factor * 4.0).all()


def test_molecules_per_cell_and_gene_equal_true_counts(leaky):
    trs = leaky.trs_df
    true = trs[trs["origin"].isin(["cell", "leaked"])]
    rows = _rows(leaky.cell_gdf, true["cell_id"])
    cols = pd.Index(leaky.gpar_df["feature_name"]).get_indexer(true["feature_name"].astype(str))
    counts = np.zeros_like(leaky.count_array)
    np.add.at(counts, (rows, cols), 1)
    np.testing.assert_array_equal(counts, leaky.count_array)


def test_leak_fraction_matches_union_rule(leaky):
    trs, cells = leaky.trs_df, leaky.cell_gdf
    true = trs[trs["origin"].isin(["cell", "leaked"])]
    p = leak_probability(cells["leakage_percentage"].to_numpy()[_rows(cells, true["cell_id"])], 0.1)
    n_leaked = (true["origin"] == "leaked").sum()
    se = np.sqrt(np.sum(p * (1 - p)))
    assert abs(n_leaked - p.sum()) < 5 * se


def test_uniform_placement_puts_area_share_in_nucleus(leaky):
    trs, cells = leaky.trs_df, leaky.cell_gdf
    own = trs[trs["origin"] == "cell"]
    rows = _rows(cells, own["cell_id"])
    share = shapely.area(cells["nucleus"].values) / shapely.area(cells.geometry.values)
    p = share[rows]
    n_nuc = (own["compartment"] == "nucleus").sum()
    assert abs(n_nuc - p.sum()) < 5 * np.sqrt(np.sum(p * (1 - p)))


def test_same_seed_gives_identical_molecules(leaky):
    again = _run(leaky.config.seed, leaky.cell_gdf, **LEAKY)
    pd.testing.assert_frame_equal(again.trs_df, leaky.trs_df)


def test_other_seed_gives_other_molecules(leaky):
    other = _run(leaky.config.seed + 10, leaky.cell_gdf, **LEAKY)
    assert len(other.trs_df) != len(leaky.trs_df) or not np.array_equal(other.trs_df["x"], leaky.trs_df["x"])


# ---------------------------------------------------------------------------------------
# Compartments and z
# ---------------------------------------------------------------------------------------
def test_nuclear_fraction_per_gene():
    cells = synthetic_cells(n_side=8, seed=4)
    res = _run(4, cells, expression_scale=3.0,
               transcripts={"nuclear_fraction": 0.0, "nuclear_fraction_by_gene": {"hk_0": 1.0, "hk_1": 0.5}})
    trs = res.trs_df
    own = trs[trs["origin"] == "cell"]
    gene = own["feature_name"].astype(str)
    assert (own.loc[gene == "hk_0", "compartment"] == "nucleus").all()
    others = own[~gene.isin(["hk_0", "hk_1"])]
    assert (others["compartment"] == "cytoplasm").all()
    half = own[gene == "hk_1"]
    k = (half["compartment"] == "nucleus").sum()
    assert abs(k - 0.5 * len(half)) < 5 * np.sqrt(0.25 * len(half))
    rows = _rows(cells, own["cell_id"])
    in_nuc = shapely.intersects_xy(cells["nucleus"].values[rows], own["x"], own["y"])
    np.testing.assert_array_equal(in_nuc, own["compartment"].to_numpy() == "nucleus")
    assert shapely.intersects_xy(cells.geometry.values[rows], own["x"], own["y"]).all()


def test_unknown_gene_in_nuclear_fraction_is_refused():
    with pytest.raises(ValueError, match="nuclear_fraction_by_gene"):
        _run(0, synthetic_cells(n_side=3), transcripts={"nuclear_fraction_by_gene": {"nope": 1.0}})


def test_z_lies_in_the_cells_slab():
    cells = synthetic_cells(n_side=6, seed=2)
    cells["z"] = np.linspace(0.0, 10.0, len(cells))
    res = _run(2, cells, tissue={"section_thickness_um": 10.0})
    trs = res.trs_df
    rows = _rows(cells, trs["cell_id"])
    radius = np.sqrt(cells["cell_area"].to_numpy() / np.pi)[rows]
    zc = cells["z"].to_numpy()[rows]
    assert ((trs["z"] >= np.maximum(zc - radius, 0) - 1e-4) & (trs["z"] <= np.minimum(zc + radius, 10) + 1e-4)).all()


# ---------------------------------------------------------------------------------------
# Instrument
# ---------------------------------------------------------------------------------------
INSTRUMENT = {
    "ambient_rate_per_um2": 0.05,
    "neg_control_probe_rate_per_um2": 0.01,
    "neg_control_codeword_rate_per_um2": 0.005,
    "unassigned_codeword_rate_per_um2": 0.002,
    "detection_efficiency": 0.8,
    "miscall_rate": 0.05,
    "jitter_um": 0.5,
    "fov_size_um": 60.0,
}


@pytest.fixture(scope="module")
def noisy():
    cells = synthetic_cells(n_side=14, seed=7)
    return _run(7, cells, expression_scale=2.0, instrument=INSTRUMENT)


def test_ambient_and_control_rates(noisy):
    trs, cells = noisy.trs_df, noisy.cell_gdf
    b = cells.total_bounds
    area = (b[2] - b[0]) * (b[3] - b[1])
    name = trs["feature_name"].astype(str)
    for count, rate in [
        ((trs["origin"] == "ambient").sum(), INSTRUMENT["ambient_rate_per_um2"]),
        (name.str.startswith("NegControlProbe_").sum(), INSTRUMENT["neg_control_probe_rate_per_um2"]),
        (name.str.startswith("NegControlCodeword_").sum(), INSTRUMENT["neg_control_codeword_rate_per_um2"]),
        (name.str.startswith("UnassignedCodeword_").sum(), INSTRUMENT["unassigned_codeword_rate_per_um2"]),
    ]:
        assert abs(count - rate * area) < 5 * np.sqrt(rate * area)
    controls = trs[trs["origin"] == "control"]
    assert controls["feature_name"].astype(str).str.match(r"(NegControl|Unassigned)").all()
    background = trs[trs["origin"].isin(["ambient", "control"])]
    assert (background["cell_id"] == -1).all() and (background["celltype"] == "none").all()
    assert background["x"].between(b[0], b[2]).all() and background["y"].between(b[1], b[3]).all()


def test_detection_and_miscalls(noisy):
    trs = noisy.trs_df
    true = trs[trs["origin"].isin(["cell", "leaked"])]
    n_true = noisy.count_array.sum()
    eff = INSTRUMENT["detection_efficiency"]
    assert abs(len(true) - eff * n_true) < 5 * np.sqrt(n_true * eff * (1 - eff))
    wrong = (true["feature_name"].astype(str) != true["true_feature_name"].astype(str)).sum()
    rate = INSTRUMENT["miscall_rate"]
    assert abs(wrong - rate * len(true)) < 5 * np.sqrt(len(true) * rate * (1 - rate))
    # Molecules per (cell, true gene) never exceed the true counts.
    rows = _rows(noisy.cell_gdf, true["cell_id"])
    cols = pd.Index(noisy.gpar_df["feature_name"]).get_indexer(true["true_feature_name"].astype(str))
    counts = np.zeros_like(noisy.count_array)
    np.add.at(counts, (rows, cols), 1)
    assert (counts <= noisy.count_array).all()


def test_quality_scores_are_lower_for_background(noisy):
    trs = noisy.trs_df
    assert trs["qv"].between(0, 40).all()
    good = trs.loc[trs["origin"] == "cell", "qv"].mean()
    bad = trs.loc[trs["origin"].isin(["ambient", "control"]), "qv"].mean()
    assert good > bad + 10


def test_jitter_moves_molecules_by_about_its_sd():
    cells = synthetic_cells(n_side=6, seed=9)
    base = _run(9, cells)
    jittered = _run(9, cells, instrument={"jitter_um": 0.5})
    dx = jittered.trs_df["x"].to_numpy() - base.trs_df["x"].to_numpy()
    assert abs(dx.std() - 0.5) < 5 * 0.5 / np.sqrt(2 * len(dx))
    # The truth (source, landed cell, compartment) does not move.
    for col in ["cell_id", "landed_cell_id", "compartment", "feature_name"]:
        pd.testing.assert_series_equal(jittered.trs_df[col], base.trs_df[col])


def test_fov_efficiency_varies_by_tile():
    cells = synthetic_cells(n_side=14, seed=3)
    res = _run(3, cells, expression_scale=2.0,
               instrument={"fov_size_um": 70.0, "fov_efficiency_sd": 0.3, "detection_efficiency": 0.9})
    trs = res.trs_df
    tile = (trs["x"] // 70).astype(int) * 100 + (trs["y"] // 70).astype(int)
    per_tile = trs.groupby(tile).size()
    assert per_tile.std() / per_tile.mean() > 0.1


# ---------------------------------------------------------------------------------------
# End to end through the tissue stage
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_run_end_to_end_with_the_tissue_stage(seed):
    res = SpotlessSimulator(SimulationConfig(seed=seed, n_cells=300, leakage_by_gene=0.2)).run()
    trs, cells = res.trs_df, res.cell_gdf
    own = trs[trs["origin"] == "cell"]
    rows = _rows(cells, own["cell_id"])
    assert shapely.intersects_xy(cells.geometry.values[rows], own["x"], own["y"]).all()
    leaked = trs[trs["origin"] == "leaked"]
    assert not shapely.intersects_xy(cells.geometry.values[_rows(cells, leaked["cell_id"])],
                                     leaked["x"], leaked["y"]).any()
    assert trs["origin"].isin(["cell", "leaked"]).sum() == res.count_array.sum()


def test_default_run_has_no_instrument_effects():
    res = SpotlessSimulator(SimulationConfig(seed=0, n_cells=200)).run()
    trs = res.trs_df
    assert set(trs["origin"].unique()) == {"cell"}
    assert len(trs) == res.count_array.sum()
    assert (trs["feature_name"] == trs["true_feature_name"]).all()


# ---------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------
def test_star_polygons_fallback_for_non_star_shapes(rng):
    ring = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10), (0, 8), (8, 8), (8, 2), (0, 2)])  # a C
    square = shapely.box(20, 0, 30, 10)
    polys = StarPolygons.from_geometries(np.array([ring, square]), np.array([[1.0, 5.0], [25.0, 5.0]]))
    assert polys.star.tolist() == [False, True]
    np.testing.assert_allclose(polys.area, [ring.area, 100.0])
    rows = np.repeat([0, 1], 2000)
    x, y = polys.sample(rows, rng)
    assert shapely.intersects_xy(np.array([ring, square])[rows], x, y).all()
    qx, qy = rng.uniform(-2, 32, 5000), rng.uniform(-2, 12, 5000)
    qrows = rng.integers(0, 2, 5000)
    np.testing.assert_array_equal(polys.contains(qrows, qx, qy),
                                  shapely.intersects_xy(np.array([ring, square])[qrows], qx, qy))
    bx, by, ux, uy = polys.exit_points(rows, rng)
    px, py = bx + 0.01 * ux, by + 0.01 * uy
    assert not shapely.intersects_xy(np.array([ring, square])[rows], px, py).any()


def test_locator_agrees_with_shapely(rng):
    cells = synthetic_cells(n_side=10, seed=5)
    centre = shapely.get_coordinates(shapely.centroid(cells["nucleus"].values))
    cpolys = StarPolygons.from_geometries(cells.geometry.values, centre)
    npolys = StarPolygons.from_geometries(cells["nucleus"].values, centre)
    loc = CellLocator.build(cpolys, npolys)
    b = cells.total_bounds
    x, y = rng.uniform(b[0] - 5, b[2] + 5, 20_000), rng.uniform(b[1] - 5, b[3] + 5, 20_000)
    row, in_nuc = loc.locate(x, y)
    pi, ci = shapely.STRtree(cells.geometry.values).query(shapely.points(x, y), predicate="intersects")
    truth = np.full(len(x), -1)
    truth[pi] = ci
    np.testing.assert_array_equal(row, truth)
    nuc_truth = np.zeros(len(x), dtype=bool)
    hit = truth >= 0
    nuc_truth[hit] = shapely.intersects_xy(cells["nucleus"].values[truth[hit]], x[hit], y[hit])
    np.testing.assert_array_equal(in_nuc, nuc_truth)


def test_counts_to_transcript_df():
    counts = np.array([[0, 2, 1], [3, 0, 0]])
    df = counts_to_transcript_df(counts, np.array([7, 9]), ["a", "b", "c"])
    assert df["cell_id"].tolist() == [7, 7, 7, 9, 9, 9]
    assert df["feature_name"].astype(str).tolist() == ["b", "b", "c", "a", "a", "a"]
    with pytest.raises(ValueError, match="shape"):
        counts_to_transcript_df(counts, np.array([7]), ["a", "b", "c"])
    with pytest.raises(ValueError, match="non-negative"):
        counts_to_transcript_df(-counts, np.array([7, 9]), ["a", "b", "c"])


@pytest.mark.parametrize(("p_cell", "p_gene"), [(0.2, 0.0), (0.0, 0.3), (0.2, 0.3)])
def test_classify_leakage_union_rule(p_cell, p_gene):
    n = 40_000
    trs = counts_to_transcript_df(np.array([[n // 2, n // 2]]), [5], ["a", "b"])
    cells = pd.DataFrame({"cell_id": [5], "leakage_percentage": [p_cell]})
    genes = pd.DataFrame({"feature_name": ["a", "b"], "gene_leakage": [p_gene, 0.0]})
    leaked = classify_leakage(trs, cells, genes, np.random.default_rng(0))
    assert leaked.dtype == bool and leaked.shape == (len(trs),)
    a = leaked[(trs["feature_name"] == "a").to_numpy()]
    b = leaked[(trs["feature_name"] == "b").to_numpy()]
    for got, p in [(a, 1 - (1 - p_cell) * (1 - p_gene)), (b, p_cell)]:
        assert abs(got.mean() - p) < 5 * np.sqrt(p * (1 - p) / len(got)) + 1e-12


def test_generate_transcripts_refuses_mismatched_counts():
    cells = synthetic_cells(n_side=3)
    cfg = SimulationConfig(n_cells=9)
    sim = SpotlessSimulator(cfg)
    gpar = sim.generate_gene_parameters()
    with pytest.raises(ValueError, match="count_array"):
        generate_transcripts(np.zeros((4, 300), dtype=int), cells, gpar, stage_rng(0, "transcripts"), config=cfg)


def test_thread_count_does_not_change_molecules():
    cells = synthetic_cells(n_side=10, seed=6)
    fields = {"leakage_by_gene": 0.2, "instrument": INSTRUMENT}
    one = _run(6, cells, transcripts={"n_threads": 1, "block_size": 16}, **fields)
    three = _run(6, cells, transcripts={"n_threads": 3, "block_size": 16}, **fields)
    pd.testing.assert_frame_equal(one.trs_df, three.trs_df)


def test_jitter_changes_positions_only():
    """Switching jitter on keeps the detected and mis-called molecules: like-for-like comparisons."""
    from STpuppeteer.simulation import simulate

    base = {"seed": 4, "n_cells": 200, "expression_scale": 3}
    instrument = {"detection_efficiency": 0.8, "miscall_rate": 0.02}
    still = simulate(SimulationConfig(**base, instrument=instrument)).trs_df
    sigma = 0.3
    moved = simulate(SimulationConfig(**base, instrument={**instrument, "jitter_um": sigma})).trs_df
    assert len(still) == len(moved)
    for column in ("transcript_id", "feature_name", "cell_id", "origin", "landed_cell_id", "qv"):
        assert (still[column].to_numpy() == moved[column].to_numpy()).all(), column
    shift = np.hypot(moved["x"].to_numpy() - still["x"].to_numpy(), moved["y"].to_numpy() - still["y"].to_numpy())
    # Rayleigh(σ): mean σ√(π/2), sd σ√((4-π)/2)
    se = sigma * np.sqrt((4 - np.pi) / 2) / np.sqrt(len(shift))
    assert abs(shift.mean() - sigma * np.sqrt(np.pi / 2)) < 5 * se
