"""Per-gene compartment patterns and the nuclear enrichment (stage 4, ``transcripts.localisation``).

The statistical tests compare counts with their closed forms: a gene with pattern P and
strength s has a share s + (1 − s)·a of its molecules in P's region, a the region's share of
its cell's area (uniform baseline). Region membership is recomputed here with shapely (rays
cut with the polygons, polygons scaled about the centre), independently of the stage's
moved-point tests; area shares are exact where they have a closed form, else Monte Carlo
with their error added to the binomial one.
"""

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pydantic import ValidationError

from STpuppeteer.config import SimulationConfig, preset_config
from STpuppeteer.config.localisation import LocalisationConfig
from STpuppeteer.simulation import SpotlessSimulator
from STpuppeteer.stages.transcripts.localisation import PREFERENCE_COLUMN, STRENGTH_COLUMN, gene_localisation

#: Deviations beyond this many standard errors fail (two-sided, about 1 in 15,000 by chance).
Z = 4.0
EDGE_UM, SHELL_UM, DISTAL_Q = 1.5, 2.0, 0.6


def _cells(n_side=8, spacing=20.0, seed=0):
    """Jittered grid of elliptical nuclei; cells = Voronoi ∩ nucleus buffered by 6 µm (convex, no leakage)."""
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
        "cell_id": np.arange(n), "celltype": np.array(["ct_0", "ct_1", "ct_2"])[rng.integers(0, 3, n)],
        "x": xy[:, 0], "y": xy[:, 1], "z": np.full(n, 2.5), "nucleus_area": shapely.area(nuclei),
        "cell_area": shapely.area(cells), "scale": np.ones(n), "leakage_percentage": np.zeros(n),
        "nucleus": gpd.GeoSeries(nuclei),
    }, geometry=gpd.GeoSeries(cells))


def _run(seed, cell_gdf, **fields):
    cfg = SimulationConfig(seed=seed, n_cells=len(cell_gdf), **fields)
    sim = SpotlessSimulator(cfg)
    sim.generate_gene_parameters()
    sim.cell_gdf = cell_gdf
    return sim.run()


# ---------------------------------------------------------------------------------------
# Independent region tests (shapely)
# ---------------------------------------------------------------------------------------
def _boundary_radius(polys, cx, cy, x, y):
    """Distance from the centre to the polygon's boundary along the ray through (x, y) (star polygons)."""
    dx, dy = x - cx, y - cy
    norm = np.maximum(np.hypot(dx, dy), 1e-12)
    far = 1e3
    rays = shapely.linestrings(np.stack([np.column_stack([cx, cy]),
                                         np.column_stack([cx + far * dx / norm, cy + far * dy / norm])], axis=1))
    hit = shapely.intersection(rays, shapely.get_exterior_ring(polys))
    return shapely.distance(shapely.points(cx, cy), hit)


def _in_region(pattern, cells, rows, x, y):
    cell_poly = cells.geometry.values[rows]
    nuc = cells["nucleus"].values[rows]
    centre = shapely.get_coordinates(shapely.centroid(nuc))
    cx, cy = centre[:, 0], centre[:, 1]
    in_nuc = shapely.intersects_xy(nuc, x, y)
    r = np.hypot(x - cx, y - cy)
    if pattern == "nuclear":
        return in_nuc
    if pattern == "cytoplasmic":
        return ~in_nuc
    if pattern == "perinuclear":
        return ~in_nuc & (r - _boundary_radius(nuc, cx, cy, x, y) <= SHELL_UM)
    if pattern == "cell_edge":
        return _boundary_radius(cell_poly, cx, cy, x, y) - r <= EDGE_UM
    if pattern == "distal":
        scaled = np.array([shapely.affinity.scale(p, DISTAL_Q, DISTAL_Q, origin=(a, b))
                           for p, a, b in zip(cell_poly, cx, cy, strict=True)])
        return ~shapely.intersects_xy(scaled, x, y)
    raise AssertionError(pattern)


def _area_share(pattern, cells, rng, n_points=3000):
    """Each cell's share of area in the region, and its Monte Carlo variance (0 when exact)."""
    cell_area = shapely.area(cells.geometry.values)
    if pattern in ("nuclear", "cytoplasmic"):
        share = shapely.area(cells["nucleus"].values) / cell_area
        return (share if pattern == "nuclear" else 1 - share), np.zeros(len(cells))
    if pattern == "distal":
        return np.full(len(cells), 1 - DISTAL_Q**2), np.zeros(len(cells))
    b = shapely.bounds(cells.geometry.values)
    share = np.empty(len(cells))
    for i in range(len(cells)):
        pts = rng.uniform(b[i, :2], b[i, 2:], (4 * n_points, 2))
        pts = pts[shapely.intersects_xy(cells.geometry.values[i], pts[:, 0], pts[:, 1])][:n_points]
        share[i] = _in_region(pattern, cells, np.full(len(pts), i), pts[:, 0], pts[:, 1]).mean()
    return share, share * (1 - share) / n_points


PATTERN_GENES = {"hk_0": "nuclear", "hk_1": "cytoplasmic", "hk_2": "perinuclear", "hk_3": "cell_edge",
                 "hk_4": "distal"}
STRENGTHS = {"hk_0": 0.3, "hk_1": 0.6, "hk_2": 0.5, "hk_3": 0.7, "hk_4": 0.4}


@pytest.fixture(scope="module")
def patterned():
    cells = _cells(seed=3)
    genes = {g: {"pattern": p, "strength": STRENGTHS[g]} for g, p in PATTERN_GENES.items()}
    loc = {"genes": genes, "cell_edge_um": EDGE_UM, "perinuclear_um": SHELL_UM, "distal_fraction": DISTAL_Q,
           "n_foci": 1, "foci_sigma_um": 0.3}
    return cells, _run(3, cells, expression_scale=4.0, hk_mu=8.0, hk_cv=0.01,
                       transcripts={"localisation": loc, "block_size": 16})


@pytest.mark.parametrize("gene", list(PATTERN_GENES))
def test_share_in_compartment_matches_strength(patterned, gene):
    cells, res = patterned
    trs = res.trs_df
    own = trs[(trs["origin"] == "cell") & (trs["feature_name"].astype(str) == gene)]
    rows = pd.Index(cells["cell_id"]).get_indexer(own["cell_id"].to_numpy())
    assert len(own) > 1500
    inside = _in_region(PATTERN_GENES[gene], cells, rows, own["x"].to_numpy(), own["y"].to_numpy())
    share, share_var = _area_share(PATTERN_GENES[gene], cells, np.random.default_rng(0))
    s = STRENGTHS[gene]
    p = s + (1 - s) * share[rows]
    # Binomial variance of the count, plus the Monte Carlo error of the expected count.
    per_cell = np.bincount(rows, minlength=len(cells))
    var = np.sum(p * (1 - p)) + np.sum((1 - s) ** 2 * per_cell**2 * share_var)
    assert abs(inside.sum() - p.sum()) <= Z * np.sqrt(var), (gene, inside.sum(), p.sum(), np.sqrt(var))


def test_a_strength_of_one_puts_every_molecule_in_its_region():
    cells = _cells(n_side=4, seed=5)
    loc = {"genes": {g: {"pattern": p, "strength": 1.0} for g, p in PATTERN_GENES.items()},
           "cell_edge_um": EDGE_UM, "perinuclear_um": SHELL_UM, "distal_fraction": DISTAL_Q}
    trs = _run(5, cells, hk_mu=4.0, transcripts={"localisation": loc}).trs_df
    for gene, pattern in PATTERN_GENES.items():
        own = trs[(trs["origin"] == "cell") & (trs["feature_name"].astype(str) == gene)]
        rows = pd.Index(cells["cell_id"]).get_indexer(own["cell_id"].to_numpy())
        inside = _in_region(pattern, cells, rows, own["x"].to_numpy(), own["y"].to_numpy())
        # Molecules on a region's boundary (rounding) may fall either side: at most a few in a thousand.
        assert inside.mean() > 0.997, (gene, inside.mean())


def test_foci_spread_is_sigma(patterned):
    """One granule per cell and gene at strength 1: a pair's molecules scatter with s.d. σ per axis."""
    cells = _cells(n_side=6, seed=8)
    sigma = 0.3
    loc = {"genes": {"hk_5": {"pattern": "foci", "strength": 1.0}}, "n_foci": 1, "foci_sigma_um": sigma}
    trs = _run(8, cells, hk_mu=30.0, hk_cv=0.01, transcripts={"localisation": loc}).trs_df
    own = trs[(trs["origin"] == "cell") & (trs["feature_name"].astype(str) == "hk_5")]
    xy = own[["x", "y"]].to_numpy()
    centred = xy - own.groupby("cell_id")[["x", "y"]].transform("mean").to_numpy()
    ss = np.sum(centred**2)
    dof = 2 * (len(own) - own["cell_id"].nunique())
    # Σ (n−1)·var over cells and axes is σ²·χ²(dof): relative s.e. √(2/dof). Truncation at the
    # cell's edge (≥ 6 µm from a granule in the cytoplasm's interior, 20σ) is negligible.
    assert abs(ss / dof / sigma**2 - 1) <= Z * np.sqrt(2 / dof), (ss / dof, sigma**2)
    assert shapely.intersects_xy(cells.geometry.values[own["cell_id"].to_numpy()], own["x"], own["y"]).all()


@pytest.mark.parametrize("ratio", [0.5, 2.5])
def test_nuclear_density_ratio_is_recovered(ratio):
    cells = _cells(seed=11)
    res = _run(11, cells, expression_scale=3.0, transcripts={"localisation": {"nuclear_density_ratio": ratio}})
    trs = res.trs_df
    own = trs[trs["origin"] == "cell"]
    rows = pd.Index(cells["cell_id"]).get_indexer(own["cell_id"].to_numpy())
    k = shapely.intersects_xy(cells["nucleus"].values[rows], own["x"], own["y"]).astype(float)
    share = (cells["nucleus_area"] / cells["cell_area"]).to_numpy()[rows]
    offset = np.log(share / (1 - share))
    # P(nucleus) = ρ·s / (ρ·s + 1 − s): a logistic model with offset logit(s) and slope log ρ; its MLE by Newton.
    log_rho = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(offset + log_rho)))
        info = np.sum(p * (1 - p))
        log_rho += np.sum(k - p) / info
    se = 1 / np.sqrt(info)
    assert abs(log_rho - np.log(ratio)) <= Z * se, (np.exp(log_rho), ratio, se)


def test_truth_accounts_for_every_molecule():
    cells = _cells(n_side=6, seed=2)
    cells["leakage_percentage"] = 0.2
    loc = {"nuclear_density_ratio": 1.3, "strength": 0.8,
           "pattern_mix": {"nuclear": 0.2, "perinuclear": 0.2, "cell_edge": 0.2, "distal": 0.1, "foci": 0.1,
                           "cytoplasmic": 0.1}}
    res = _run(2, cells, expression_scale=2.0, transcripts={"localisation": loc})
    trs = res.trs_df
    mine = trs[trs["origin"].isin(["cell", "leaked"])]
    got = pd.crosstab(mine["cell_id"], mine["true_feature_name"].astype(str))
    want = pd.DataFrame(res.count_array, index=cells["cell_id"], columns=res.gpar_df["feature_name"])
    want = want.loc[:, want.sum() > 0]
    want = want.loc[want.sum(axis=1) > 0]
    pd.testing.assert_frame_equal(got.reindex_like(want).fillna(0).astype(int), want.astype(int),
                                  check_names=False)
    own = trs[trs["origin"] == "cell"]
    rows = own["cell_id"].to_numpy()
    assert shapely.intersects_xy(cells.geometry.values[rows], own["x"], own["y"]).all()
    in_nuc = shapely.intersects_xy(cells["nucleus"].values[rows], own["x"], own["y"])
    np.testing.assert_array_equal(in_nuc, own["compartment"].to_numpy() == "nucleus")
    assert set(res.gpar_df[PREFERENCE_COLUMN]) == {"uniform", "nuclear", "perinuclear", "cell_edge", "distal",
                                                   "foci", "cytoplasmic"}


# ---------------------------------------------------------------------------------------
# Determinism and identity
# ---------------------------------------------------------------------------------------
def _digest(trs):
    return hashlib.sha256(pd.util.hash_pandas_object(trs, index=True).to_numpy().tobytes()).hexdigest()


def test_no_localisation_gives_the_molecules_of_before():
    """Every gene uniform, no enrichment: the molecules drawn before patterns existed (digest of that code).

    The preset's tissue, expression and instrument of that time: expanded cells, no domains,
    2,200 cells/mm², expression scale 5.5, no optics. Only the cells' molecules (origin ``cell``
    and ``leaked``) are compared, without ``transcript_id``: the background has since been drawn
    inside the cell blocks with ambient genes from the expected totals (a model change,
    ``docs/model_instrument.md``, "Background"), which changes its rows and their place in the table.
    """
    cfg = preset_config("merscope", seed=7, n_cells=400, expression_scale=5.5,
                        transcripts={"nuclear_fraction_by_gene": {"hk_0": 0.9}, "block_size": 128},
                        morphology={"cell_model": "expanded"}, tissue={"pattern": "mixed", "density_per_mm2": 2200.0},
                        instrument={"min_distance_um": 0.0, "jitter_z_um": None})
    cfg.transcripts.localisation = LocalisationConfig()
    trs = SpotlessSimulator(cfg).run().trs_df
    cells = trs[trs["origin"].isin(["cell", "leaked"])].drop(columns="transcript_id").reset_index(drop=True)
    assert len(cells) == 143858
    assert _digest(cells) == "de435454ddb5938fb95dd76ccb271940f8c27294cbfc796da8a6bee93acbc259"


def test_patterns_do_not_depend_on_threads():
    digests = set()  # the preset's own localisation: enrichment and six patterns
    for block_size, n_threads in ((7, 1), (7, 2)):
        cfg = preset_config("xenium", seed=4, n_cells=150,
                            transcripts={"block_size": block_size, "n_threads": n_threads})
        digests.add(_digest(SpotlessSimulator(cfg).run().trs_df))
    assert len(digests) == 1


# ---------------------------------------------------------------------------------------
# Genes and config
# ---------------------------------------------------------------------------------------
def test_mix_gives_each_pattern_its_share_of_genes():
    cfg = SimulationConfig(seed=1, transcripts={"localisation": {
        "pattern_mix": {"nuclear": 0.15, "cell_edge": 0.05, "protrusion": 0.1}, "strength": 0.4,
        "genes": {"hk_0": {"pattern": "foci", "strength": 0.9}}}})
    names = SpotlessSimulator(cfg).generate_gene_parameters()["feature_name"]
    table = gene_localisation(cfg, names)
    counts = table[PREFERENCE_COLUMN].value_counts()
    n = len(names)
    # Exact shares of the 300 genes, but hk_0's own entry may take one gene from its drawn pattern.
    for pattern, share in (("nuclear", 0.15), ("cell_edge", 0.05), ("distal", 0.1)):
        assert abs(counts[pattern] - share * n) <= 1, pattern
    hk0 = list(names).index("hk_0")
    assert table.loc[hk0, PREFERENCE_COLUMN] == "foci" and table.loc[hk0, STRENGTH_COLUMN] == 0.9
    patterned = table[PREFERENCE_COLUMN] != "uniform"
    assert (table.loc[patterned & (table.index != hk0), STRENGTH_COLUMN] == 0.4).all()
    assert (table.loc[~patterned, STRENGTH_COLUMN] == 0).all()
    pd.testing.assert_frame_equal(table, gene_localisation(cfg, names))  # deterministic per seed
    other = gene_localisation(cfg.model_copy(update={"seed": 2}), names)
    assert not other[PREFERENCE_COLUMN].equals(table[PREFERENCE_COLUMN])


def test_gpar_df_shows_the_patterns_only_when_there_are_any():
    plain = SpotlessSimulator(SimulationConfig(seed=0)).generate_gene_parameters()
    assert PREFERENCE_COLUMN not in plain.columns  # the seed tutorial's nine columns stay
    cfg = preset_config("xenium", seed=0)
    gpar = SpotlessSimulator(cfg).generate_gene_parameters()
    assert list(gpar.columns[-2:]) == [PREFERENCE_COLUMN, STRENGTH_COLUMN]
    assert (gpar[PREFERENCE_COLUMN] != "uniform").mean() == pytest.approx(0.4, abs=0.01)


@pytest.mark.parametrize(("loc", "match"), [
    ({"pattern_mix": {"nucleolus": 0.1}}, "pattern_mix"),
    ({"pattern_mix": {"nuclear": 0.7, "foci": 0.4}}, "sum to 1.1"),
    ({"pattern_mix": {"nuclear": 1.5}}, "probability"),
    ({"genes": {"a": {"pattern": "edge"}}}, "pattern"),
    ({"genes": {"a": {"pattern": "foci", "strength": 2}}}, "strength"),
    ({"nuclear_density_ratio": 0.0}, "nuclear_density_ratio"),
    ({"distal_fraction": 1.0}, "distal_fraction"),
])
def test_bad_localisation_is_refused_naming_the_field(loc, match):
    with pytest.raises(ValidationError, match=match):
        SimulationConfig(transcripts={"localisation": loc})


def test_unknown_gene_is_refused():
    cells = _cells(n_side=3)
    with pytest.raises(ValueError, match="localisation.genes"):
        _run(0, cells, transcripts={"localisation": {"genes": {"nope": {"pattern": "nuclear"}}}})


def test_gene_table_entries_set_the_pattern():
    cfg = SimulationConfig(seed=0, transcripts={"localisation": {"genes": {"B": {"pattern": "foci"}}}}, gene_table={
        "celltypes": ["T"], "genes": {"A": {"mu": 3.0, "theta": 1.5, "compartment_preference": "protrusion",
                                            "compartment_strength": 0.7},
                                      "B": {"mu": 1.0, "theta": 2.0, "compartment_preference": "nuclear"},
                                      "C": {"mu": 1.0, "theta": 2.0}}})
    gpar = SpotlessSimulator(cfg).generate_gene_parameters()
    assert gpar[PREFERENCE_COLUMN].tolist() == ["distal", "foci", "uniform"]  # localisation.genes wins
    assert gpar[STRENGTH_COLUMN].tolist() == [0.7, 0.5, 0.0]
    assert cfg.gene_table.model_dump()["genes"]["C"] == {"mu": 1.0, "theta": 2.0}  # nothing written when unset
    with pytest.raises(ValidationError, match="compartment_preference"):
        SimulationConfig(gene_table={"celltypes": ["T"], "genes": {"A": {"mu": 1.0, "theta": 1.0,
                                                                         "compartment_preference": "golgi"}}})
