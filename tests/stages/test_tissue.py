"""Stage 2 (tissue): invariants of cell_gdf over seeds and patterns, statistics, config errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.spatial import cKDTree
from shapely import affinity

from STpuppeteer._random import stage_rng
from STpuppeteer.config import SimulationConfig
from STpuppeteer.config.tissue_checks import hardcore_distance_um
from STpuppeteer.stages.morphology import star_polygons
from STpuppeteer.stages.positions import sample_centres, tissue_region
from STpuppeteer.stages.spatial_pattern import allocate_counts, assign_celltypes, prototype_celltypes
from STpuppeteer.stages.tissue import CELL_COLUMNS, generate_cells

L_MASK = [(0, 0), (1000, 0), (1000, 400), (400, 400), (400, 1000), (0, 1000)]
PROTOTYPES = [
    {"kind": "ring", "celltype": "ct_2", "core_celltype": "ct_1", "radius_um": 60, "width_um": 25},
    {"kind": "chain", "celltype": "ct_0", "length_um": 400, "width_um": 20, "n_instances": 2},
    {"kind": "cluster", "celltype": "ct_1", "radius_um": 50},
]

CASES = {
    "mixed": ({"pattern": "mixed"}, 0),
    "domains": ({"pattern": "domains", "domain_length_um": 120, "fuzziness": 0.1}, 1),
    "layers": ({"pattern": "layers", "layer_wobble_um": 30, "proportions": [0.5, 0.3, 0.2]}, 2),
    "mask": ({"pattern": "domains", "mask_um": L_MASK}, 3),
    "prototypes": ({"pattern": "mixed", "prototypes": PROTOTYPES, "aspect_ratio": 2.0}, 4),
}
N_CELLS = 3000


def _config(tissue: dict, seed: int, n_cells: int = N_CELLS, **extra: object) -> SimulationConfig:
    return SimulationConfig(seed=seed, n_cells=n_cells, n_celltype=3, tissue=tissue, **extra)


def _cells(config: SimulationConfig):
    return generate_cells(config, stage_rng(config.seed, "cells"))


@pytest.fixture(scope="session")
def simulated() -> dict:
    out = {}
    for name, (tissue, seed) in CASES.items():
        config = _config(tissue, seed, leakage_by_celltype={"ct_1": 0.25})
        out[name] = (config, _cells(config))
    return out


def _same_type_neighbour_fraction(cell_gdf) -> float:
    xy = cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy()
    _, nbr = cKDTree(xy).query(xy, k=7)
    types = cell_gdf["celltype"].to_numpy()
    return float(np.mean(types[nbr[:, 1:]] == types[:, None]))


# --- invariants ------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(CASES))
def test_columns_and_ids(simulated, case):
    config, cell_gdf = simulated[case]
    assert tuple(cell_gdf.columns) == CELL_COLUMNS
    assert len(cell_gdf) == config.n_cells
    assert cell_gdf["cell_id"].dtype == np.int64
    np.testing.assert_array_equal(cell_gdf["cell_id"], np.arange(config.n_cells))
    assert cell_gdf.geometry.name == "geometry"
    assert set(cell_gdf["celltype"]) <= set(config.celltype_names)
    assert cell_gdf["nucleus"].dtype == "geometry"


@pytest.mark.parametrize("case", list(CASES))
def test_polygons_valid_and_disjoint(simulated, case):
    _, cell_gdf = simulated[case]
    cells, nuclei = cell_gdf.geometry.to_numpy(), cell_gdf["nucleus"].to_numpy()
    assert shapely.is_valid(cells).all() and shapely.is_valid(nuclei).all()
    assert (shapely.get_type_id(cells) == shapely.GeometryType.POLYGON).all()
    assert (shapely.get_type_id(nuclei) == shapely.GeometryType.POLYGON).all()
    union = shapely.union_all(cells).area
    assert abs(cell_gdf["cell_area"].sum() - union) <= 1e-6 * union
    assert shapely.within(nuclei, cells).all()
    # a nucleus never reaches into another cell
    tree = shapely.STRtree(cells)
    nucleus_idx, cell_idx = tree.query(nuclei, predicate="intersects")
    foreign = nucleus_idx != cell_idx
    overlap = shapely.area(shapely.intersection(nuclei[nucleus_idx[foreign]], cells[cell_idx[foreign]]))
    assert np.all(overlap < 1e-9)


@pytest.mark.parametrize("case", list(CASES))
def test_everything_inside_tissue(simulated, case):
    config, cell_gdf = simulated[case]
    region = tissue_region(config.tissue, config.n_cells)
    assert region.bounds[:2] == pytest.approx((0.0, 0.0), abs=1e-9)
    grown = region.buffer(1e-7)
    assert shapely.within(cell_gdf.geometry.to_numpy(), grown).all()
    assert (cell_gdf[["x", "y", "nucleus_x", "nucleus_y"]].to_numpy() >= 0).all()
    thickness = config.tissue.section_thickness_um
    assert cell_gdf["z"].between(0, thickness).all()
    assert cell_gdf["z"].std() == pytest.approx(thickness / math.sqrt(12), rel=5 * 0.5 / math.sqrt(N_CELLS))


@pytest.mark.parametrize("case", list(CASES))
def test_columns_agree_with_geometry(simulated, case):
    config, cell_gdf = simulated[case]
    centroid = shapely.get_coordinates(shapely.centroid(cell_gdf.geometry.to_numpy()))
    np.testing.assert_allclose(cell_gdf[["x", "y"]].to_numpy(), centroid)
    np.testing.assert_allclose(cell_gdf["cell_area"], shapely.area(cell_gdf.geometry.to_numpy()))
    np.testing.assert_allclose(cell_gdf["nucleus_area"], shapely.area(cell_gdf["nucleus"].to_numpy()))
    type_mean_scale = cell_gdf.groupby("celltype")["scale"].mean()
    np.testing.assert_allclose(type_mean_scale, 1.0)
    expected_leak = np.where(cell_gdf["celltype"] == "ct_1", 0.25, 0.0)
    np.testing.assert_array_equal(cell_gdf["leakage_percentage"], expected_leak)


@pytest.mark.parametrize("case", list(CASES))
def test_density_and_proportions(simulated, case):
    config, cell_gdf = simulated[case]
    region = tissue_region(config.tissue, config.n_cells)
    if config.tissue.mask_um is None:
        assert config.n_cells / region.area * 1e6 == pytest.approx(config.tissue.density_per_mm2, rel=1e-9)
    fractions = np.asarray(config.tissue.proportions or [1 / 3] * 3)
    counts = cell_gdf["celltype"].value_counts().reindex(config.celltype_names, fill_value=0).to_numpy()
    # exact up to rounding, far inside the binomial error
    assert np.all(np.abs(counts - config.n_cells * fractions) <= 1)
    # no gaps or crowds: each half of the tissue holds its share (Poisson 5 SE; blue noise is tighter)
    x = cell_gdf["nucleus_x"].to_numpy()
    cut = shapely.centroid(region).x
    left = shapely.intersection(region, shapely.box(-1, -1, cut, 1e9)).area / region.area
    expected = left * config.n_cells
    assert abs((x < cut).sum() - expected) < 5 * math.sqrt(expected)


def test_realistic_defaults():
    cell_gdf = _cells(_config({}, seed=5, n_cells=4000))
    assert 40 <= cell_gdf["nucleus_area"].mean() <= 60
    # confluent: the mean cell is the tissue's area per cell, log-normal with CV 0.45 around it
    assert cell_gdf["cell_area"].mean() == pytest.approx(1e6 / 2200, rel=0.01)
    assert 0.35 <= cell_gdf["cell_area"].std() / cell_gdf["cell_area"].mean() <= 0.55
    assert (cell_gdf["cell_area"] > cell_gdf["nucleus_area"]).all()


def test_expanded_model_keeps_its_defaults():
    cell_gdf = _cells(_config({}, seed=5, n_cells=4000, morphology={"cell_model": "expanded"}))
    assert 250 <= cell_gdf["cell_area"].median() <= 350


def test_hardcore_distance():
    # the blue-noise centres as they are kept by the expanded model (the confluent one packs them anew)
    config = _config({"pattern": "mixed"}, seed=0, morphology={"cell_model": "expanded"})
    cell_gdf = _cells(config)
    xy = cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy()
    nearest = cKDTree(xy).query(xy, k=2)[0][:, 1]
    assert nearest.min() >= hardcore_distance_um(config.tissue, config.n_cells) * (1 - 1e-9)


def test_centres_blue_noise_not_poisson():
    # Variance of counts in windows is far below Poisson's (= mean) for a hard-core process.
    region = shapely.box(0, 0, 2000, 2000)
    xy = sample_centres(region, 8800, np.random.default_rng(0), min_distance_um=16.0)
    assert len(xy) == 8800
    counts = np.histogram2d(xy[:, 0], xy[:, 1], bins=20, range=[[0, 2000], [0, 2000]])[0].ravel()
    assert counts.var() < 0.5 * counts.mean()


# --- patterns --------------------------------------------------------------------------
def test_domains_cluster_types_more_than_mixed(simulated):
    mixed = _same_type_neighbour_fraction(simulated["mixed"][1])
    domains = _same_type_neighbour_fraction(simulated["domains"][1])
    se = math.sqrt((1 / 3) * (2 / 3) / N_CELLS)
    assert abs(mixed - 1 / 3) < 5 * se
    assert domains > 0.6


def test_fuzziness_blends_towards_mixed():
    fractions = []
    for fuzz in (0.0, 0.5, 1.0):
        cell_gdf = _cells(_config({"pattern": "domains", "fuzziness": fuzz}, seed=7))
        fractions.append(_same_type_neighbour_fraction(cell_gdf))
    assert fractions[0] > fractions[1] > fractions[2]
    assert abs(fractions[2] - 1 / 3) < 5 * math.sqrt((2 / 9) / N_CELLS)


def test_layers_are_ordered_bands():
    order = ["ct_2", "ct_0", "ct_1"]
    # expanded model: the centres stay where they were typed (confluent packing moves them a few µm)
    cell_gdf = _cells(_config({"pattern": "layers", "layer_order": order}, seed=8,
                              morphology={"cell_model": "expanded"}))
    y = cell_gdf.groupby("celltype")["nucleus_y"].agg(["min", "max"]).loc[order]
    assert (y["max"].to_numpy()[:-1] <= y["min"].to_numpy()[1:]).all()


def test_argmax_with_counts_is_exact_for_unbalanced_targets():
    config = _config({"pattern": "domains", "proportions": [0.7, 0.25, 0.05]}, seed=9)
    region = tissue_region(config.tissue, config.n_cells)
    xy = sample_centres(region, config.n_cells, np.random.default_rng(1), min_distance_um=15)
    codes = assign_celltypes(xy, region, config.tissue, np.random.default_rng(2), celltype_names=config.celltype_names)
    np.testing.assert_array_equal(np.bincount(codes, minlength=3), allocate_counts(config.n_cells, [0.7, 0.25, 0.05]))


SEED_INSIDE = 0


def test_prototype_shapes_on_a_grid():
    g = np.arange(0.0, 1000.0, 10.0) + 5.0
    xy = np.column_stack([a.ravel() for a in np.meshgrid(g, g)])  # 0.01 cells/µm²
    region = shapely.box(0, 0, 1000, 1000)
    ring = {"kind": "ring", "celltype": "ct_2", "core_celltype": "ct_1", "radius_um": 60, "width_um": 30}
    config = _config({"prototypes": [ring]}, seed=0)
    forced = prototype_celltypes(xy, region, config.tissue.prototypes, np.random.default_rng(SEED_INSIDE),
                                 celltype_names=config.celltype_names)
    core, ring = xy[forced == 1], xy[forced == 2]
    centre = core.mean(axis=0)
    assert np.all((centre > 100) & (centre < 900)), "seed chosen so the ring lies inside the tissue"
    assert len(core) == pytest.approx(math.pi * 60**2 * 0.01, rel=0.1)
    assert len(ring) == pytest.approx(math.pi * (90**2 - 60**2) * 0.01, rel=0.1)
    assert np.hypot(*(core - centre).T).max() < 60 + 10
    assert np.hypot(*(ring - centre).T).min() > 60 - 10
    assert np.hypot(*(ring - centre).T).max() < 90 + 10
    chain = _config({"prototypes": [{"kind": "chain", "celltype": "ct_0", "length_um": 300, "width_um": 30}]}, seed=0)
    forced = prototype_celltypes(xy, region, chain.tissue.prototypes, np.random.default_rng(4),
                                 celltype_names=chain.celltype_names)
    assert 0 < (forced == 0).sum() <= 300 * 30 * 0.01 * 1.3 + 10


def test_prototypes_raise_type_frequency_locally(simulated):
    # ring core + cluster of ct_1: ct_1 cells have more ct_1 neighbours than in the mixed case
    _, cell_gdf = simulated["prototypes"]
    assert _same_type_neighbour_fraction(cell_gdf) > _same_type_neighbour_fraction(simulated["mixed"][1])


# --- region ----------------------------------------------------------------------------
def test_mask_fitted_and_unfitted():
    fitted = _config({"mask_um": L_MASK}, seed=0, n_cells=1000)
    region = tissue_region(fitted.tissue, 1000)
    assert region.area == pytest.approx(1000 / 2200 * 1e6)
    factor = math.sqrt(region.area / 640000)
    expected = affinity.scale(shapely.Polygon(L_MASK), factor, factor, origin=(0, 0))
    assert shapely.hausdorff_distance(region, expected) < 1e-9
    raw = _config({"mask_um": [(100 + x, 50 + y) for x, y in L_MASK], "fit_mask_to_density": False}, seed=0,
                  n_cells=1000)
    region = tissue_region(raw.tissue, 1000)
    assert region.area == pytest.approx(640000) and region.bounds == (0, 0, 1000, 1000)
    cell_gdf = _cells(raw)
    assert len(cell_gdf) == 1000
    assert shapely.within(cell_gdf.geometry.to_numpy(), region.buffer(1e-7)).all()


def test_aspect_ratio(simulated):
    config, _ = simulated["prototypes"]
    x0, y0, x1, y1 = tissue_region(config.tissue, config.n_cells).bounds
    assert (x1 - x0) / (y1 - y0) == pytest.approx(2.0)


# --- determinism -----------------------------------------------------------------------
def test_same_seed_same_cells(simulated):
    config, cell_gdf = simulated["prototypes"]
    again = _cells(config)
    pd.testing.assert_frame_equal(pd.DataFrame(cell_gdf.drop(columns=["geometry", "nucleus"])),
                                  pd.DataFrame(again.drop(columns=["geometry", "nucleus"])))
    for column in ("geometry", "nucleus"):
        assert (shapely.to_wkb(cell_gdf[column].to_numpy()) == shapely.to_wkb(again[column].to_numpy())).all()
    other = _cells(config.model_copy(update={"seed": config.seed + 100}))
    assert not np.allclose(other["x"], cell_gdf["x"])


def test_threads_do_not_change_the_cells():
    # Several 1000 µm tiles, built on 1 and on 3 threads (tiles finish in any order).
    config = SimulationConfig(n_cells=6000, seed=4)
    def on(threads: int) -> SimulationConfig:
        return config.model_copy(update={"transcripts": config.transcripts.model_copy(update={"n_threads": threads})})

    one, three = (generate_cells(on(threads), stage_rng(4, "cells")) for threads in (1, 3))
    assert len(np.unique(np.floor(one[["nucleus_x", "nucleus_y"]].to_numpy() / 1000.0), axis=0)) >= 4
    pd.testing.assert_frame_equal(pd.DataFrame(one.drop(columns=["geometry", "nucleus"])),
                                  pd.DataFrame(three.drop(columns=["geometry", "nucleus"])))
    for column in ("geometry", "nucleus"):
        assert (shapely.to_wkb(one[column].to_numpy()) == shapely.to_wkb(three[column].to_numpy())).all()


# --- config validation -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("tissue", "morphology", "match"),
    [
        ({"density_per_mm2": 20000}, {}, "too big for the density"),
        ({}, {"nucleus_area_mean_um2": 200}, "too big for the density"),
        ({}, {"celltype_shapes": {"ct_1": {"nucleus_area_mean_um2": 150}}}, "nuclei of ct_1 are too big"),
        ({"proportions": [0.5, 0.5]}, {}, "one per cell type"),
        ({"layer_order": ["ct_0", "ct_0", "ct_1"]}, {}, "layer_order"),
        ({"prototypes": [{"kind": "cluster", "celltype": "ct_9"}]}, {}, "not a cell type"),
        ({"prototypes": [{"kind": "cluster", "celltype": "ct_0", "radius_um": 800}]}, {}, "prototypes need"),
        ({}, {"celltype_shapes": {"ct_7": {}}}, "unknown cell types"),
    ],
)
def test_impossible_configs_refused_before_work(tissue, morphology, match):
    # Refused by the config itself where it runs the check, else first thing in the stage.
    with pytest.raises(ValueError, match=match):
        config = SimulationConfig(n_cells=2000, n_celltype=3, tissue=tissue, morphology=morphology)
        generate_cells(config, stage_rng(0, "cells"))


@pytest.mark.parametrize(
    ("tissue", "match"),
    [
        ({"proportions": [0.5, 0.3, 0.3]}, "summing to 1"),
        ({"mask_um": [(0, 0), (10, 10), (10, 0), (0, 10)]}, "not a valid polygon"),
        ({"mask_um": [(0, 0), (1, 1)]}, "at least 3"),
        ({"min_distance_ratio": 0.95}, "min_distance_ratio"),
        ({"fuzziness": 1.5}, "fuzziness"),
        ({"densty_per_mm2": 2000}, "densty_per_mm2"),
        ({"prototypes": [{"kind": "cluster", "celltype": "ct_0", "core_celltype": "ct_1"}]}, "only allowed"),
    ],
)
def test_field_errors_name_the_field(tissue, match):
    with pytest.raises(ValueError, match=match):
        SimulationConfig(n_cells=100, n_celltype=3, tissue=tissue)


def test_config_round_trips_through_yaml(tmp_path, simulated):
    config, _ = simulated["prototypes"]
    path = tmp_path / "c.yaml"
    config.to_yaml(path)
    assert SimulationConfig.from_yaml(path) == config


# --- tiles -----------------------------------------------------------------------------
@pytest.mark.parametrize("tile_um", [150.0, 400.0])
def test_tiled_cells_equal_global_voronoi(monkeypatch, tile_um):
    # Cells built tile by tile (with a halo) equal the global Voronoi cell ∩ reach ∩ tissue.
    import STpuppeteer.stages.tiles as tiles_module

    monkeypatch.setattr(tiles_module, "TILE_UM", tile_um)
    config = _config({"pattern": "mixed", "mask_um": L_MASK}, seed=11, n_cells=1500,
                     morphology={"cell_model": "expanded"})
    cell_gdf = _cells(config)
    region = tissue_region(config.tissue, config.n_cells)
    centres = cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy()
    coords = shapely.get_coordinates(cell_gdf["nucleus"].to_numpy())
    vertices = coords.reshape(len(cell_gdf), -1, 2)[:, :-1]
    radii = np.hypot(*(vertices - centres[:, None, :]).transpose(2, 0, 1))
    reach = star_polygons(centres, radii + config.morphology.max_expansion_um)
    voronoi = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(centres), extend_to=region, ordered=True))
    expected = shapely.intersection(shapely.intersection(voronoi, reach), region)
    got = cell_gdf.geometry.to_numpy()
    np.testing.assert_allclose(shapely.area(got), shapely.area(expected), rtol=1e-9)
    assert shapely.area(shapely.symmetric_difference(got, expected)).max() < 1e-6
    # numbered tile by tile: tile rows never decrease along cell_id
    rows = np.floor(centres[:, 1] / tile_um)
    assert np.all(np.diff(rows) >= 0)


def test_validation_precedes_any_work(monkeypatch):
    import STpuppeteer.stages.tissue as tissue_module

    def _work(*args, **kwargs):
        raise AssertionError("positions were drawn before the config was checked")

    monkeypatch.setattr(tissue_module, "sample_centres", _work)
    monkeypatch.setattr(tissue_module, "tissue_region", _work)
    with pytest.raises(ValueError, match="too big for the density"):
        config = SimulationConfig(n_cells=10_000_000, n_celltype=3, tissue={"density_per_mm2": 30000})
        generate_cells(config, stage_rng(0, "cells"))


@pytest.mark.parametrize("n_cells", [1, 2, 3, 4])
def test_tiny_tissues_give_every_cell_a_nucleus_and_a_finite_size_factor(n_cells):
    # 2 cells on ~900 µm²: the boundary margin (half the hard-core distance) left less than half
    # the tissue, the centres were clipped onto its edge, a nucleus shrank to area 0 and its size
    # factor was 0/0 (seeds 3 and 5 of n_cells=2).
    for seed in (0, 1, 3, 5):
        cells = generate_cells(SimulationConfig(seed=seed, n_cells=n_cells), stage_rng(seed, "cells"))
        assert (cells["nucleus_area"] > 1.0).all(), (seed, cells["nucleus_area"].tolist())
        assert np.isfinite(cells["scale"]).all() and (cells["scale"] > 0).all()
