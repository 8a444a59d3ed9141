"""Stage 2, confluent model: cells fill the tissue, areas and shapes follow their types, structure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from scipy.spatial import Delaunay

from STpuppeteer._random import stage_rng
from STpuppeteer.config import SimulationConfig
from STpuppeteer.stages.tissue import generate_cells, tissue_layout

N_CELLS = 4000
SHAPES = {
    "ct_0": {},
    "ct_1": {"cell_area_mean_um2": 900.0, "cell_elongation": 3.0, "cell_area_cv": 0.35},
    "ct_2": {"cell_area_mean_um2": 300.0, "cell_area_cv": 0.5},
}


def _config(seed: int = 3, n_cells: int = N_CELLS, tissue: dict | None = None) -> SimulationConfig:
    return SimulationConfig(
        seed=seed, n_cells=n_cells, n_celltype=3, tissue=tissue or {}, morphology={"celltype_shapes": SHAPES}
    )


def _cells(config: SimulationConfig):
    return generate_cells(config, stage_rng(config.seed, "cells"))


@pytest.fixture(scope="module")
def tissue():
    config = _config()
    return config, _cells(config)


@pytest.fixture(scope="module")
def gapped():
    config = _config(seed=4, tissue={"gap_fraction": 0.08, "gap_radius_um": 40.0})
    return config, _cells(config), tissue_layout(config, stage_rng(config.seed, "cells")).region


def test_cells_cover_the_tissue(tissue):
    config, cell_gdf = tissue
    cells = cell_gdf.geometry.to_numpy()
    assert shapely.is_valid(cells).all()
    union = shapely.union_all(cells).area
    assert abs(cell_gdf["cell_area"].sum() - union) <= 1e-6 * union  # disjoint
    assert union >= 0.95 * config.n_cells / config.tissue.density_per_mm2 * 1e6
    assert shapely.within(cell_gdf["nucleus"].to_numpy(), cells).all()


def test_cells_cover_the_tissue_but_its_gaps(gapped):
    config, cell_gdf, region = gapped
    outline = config.n_cells / config.tissue.density_per_mm2 * 1e6
    cut = 1 - region.area / outline
    assert 0.04 <= cut <= 0.09  # holes merge (less) and the count is rounded (either way)
    cells = cell_gdf.geometry.to_numpy()
    assert shapely.within(cells, region.buffer(1e-7)).all()
    assert shapely.union_all(cells).area >= 0.95 * region.area
    assert shapely.within(cell_gdf["nucleus"].to_numpy(), cells).all()


def test_cells_are_star_shaped_about_their_nucleus_centre(tissue):
    _, cell_gdf = tissue
    # A power cell is convex and holds its centre; the star fans of geometry/ need exactly that.
    cells = cell_gdf.geometry.to_numpy()
    centre = shapely.points(cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy())
    assert shapely.contains(cells, centre).all()
    hull = shapely.convex_hull(cells)
    interior = shapely.area(hull) - shapely.area(cells) < 1e-6 * shapely.area(cells)
    assert interior.mean() > 0.95  # all but cells cut by the tissue's edge


def test_type_area_means_and_spread(tissue):
    config, cell_gdf = tissue
    per_cell = config.n_cells / config.tissue.density_per_mm2 * 1e6 / config.n_cells
    raw = {"ct_0": per_cell, "ct_1": 900.0, "ct_2": 300.0}
    counts = cell_gdf["celltype"].value_counts()
    scale = per_cell * config.n_cells / sum(raw[t] * counts[t] for t in raw)
    stats = cell_gdf.groupby("celltype")["cell_area"].agg(["mean", "std", "count"])
    for name, cv in (("ct_0", 0.45), ("ct_1", 0.35), ("ct_2", 0.5)):
        mean, sd, n = stats.loc[name]
        target = raw[name] * scale
        se = target * cv / math.sqrt(n)
        # The power cells follow the targets to within the packing's error (measured: < 10 % of the
        # mean in domains; docs/model_tissue.md) on top of the sampling error.
        assert abs(mean - target) <= 0.1 * target + 3 * se, (name, mean, target)
        # spread: log-normal draws, clipped, plus the tessellation's own scatter
        assert 0.7 * cv <= sd / mean <= cv + 0.15, (name, sd / mean)


def _axes(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Long axis angle and length/width of each polygon from the second moments of its area.
    xy, index = shapely.get_coordinates(shapely.get_exterior_ring(cells), return_index=True)
    xy = xy - shapely.get_coordinates(shapely.centroid(cells))[index]
    edge = np.flatnonzero(index[:-1] == index[1:])
    (x0, y0), (x1, y1), which = xy[edge].T, xy[edge + 1].T, index[edge]
    cross = x0 * y1 - x1 * y0
    n = len(cells)
    sxx = np.bincount(which, (x0 * x0 + x0 * x1 + x1 * x1) * cross, n)
    syy = np.bincount(which, (y0 * y0 + y0 * y1 + y1 * y1) * cross, n)
    sxy = np.bincount(which, (x0 * y1 + 2 * x0 * y0 + 2 * x1 * y1 + x1 * y0) * cross, n) / 2.0
    sign = np.sign(np.bincount(which, cross, n))  # rings of either orientation
    sxx, syy, sxy = sxx * sign, syy * sign, sxy * sign
    half_trace, spread = (sxx + syy) / 2.0, np.hypot((sxx - syy) / 2.0, sxy)
    return 0.5 * np.arctan2(2.0 * sxy, sxx - syy), np.sqrt((half_trace + spread) / (half_trace - spread))


def test_elongated_types_follow_the_orientation_field(tissue):
    config, cell_gdf = tissue
    layout = tissue_layout(config, stage_rng(config.seed, "cells"))
    field = layout.nucleus_angle
    cells = cell_gdf.geometry.to_numpy()
    interior = ~shapely.intersects(cells, layout.region.boundary)  # the tissue's edge cuts the others
    long = (cell_gdf["celltype"] == "ct_1").to_numpy() & interior
    round_ = (cell_gdf["celltype"] == "ct_2").to_numpy() & interior
    angle, ratio = _axes(cells)
    # nematic order parameter S = <cos 2(α − θ)>: 0 for random directions, 1 for perfect alignment
    order = np.cos(2 * (angle[long] - field[long]))
    assert np.isnan(field[round_]).all()
    # measured S = 0.89 ± 0.01 at length/width 3 (0.23 ± 0.02 when the cells were plain power cells): the issue
    # asks S ≳ 0.7 in aligned stroma, the bound is 0.6 at 5 s.e.
    assert order.mean() - 5 * order.std() / math.sqrt(long.sum()) > 0.6
    # realised length/width (area moments) within 20 % of the asked 3 (measured 2.65 ± 0.02; 1.39 before), at 5 s.e.
    se = ratio[long].std() / math.sqrt(long.sum())
    assert 0.8 * 3.0 < ratio[long].mean() - 5 * se and ratio[long].mean() + 5 * se < 1.2 * 3.0
    # round types stay round: the same length/width as before (measured 1.39 and 1.40 ± 0.01; 1.38 and 1.39 before)
    assert ratio[round_].mean() < 1.6
    # nuclei lie along their cell
    nuclei = cell_gdf["nucleus"].to_numpy()
    nucleus_angle, _ = _axes(nuclei[long])
    assert np.cos(2 * (nucleus_angle - field[long])).mean() > 0.5


@pytest.mark.parametrize("elongation", [1.5, 2.0, 3.0, 5.0])
def test_realised_elongation_follows_the_target(elongation):
    # A tissue of one elongated type (1,500 cells): measured length/width 1.57, 1.95, 2.79, 4.38 and S 0.71, 0.87,
    # 0.94, 0.97; within 20 % of the target and S > 0.6, each at 5 s.e.
    config = SimulationConfig(seed=11, n_cells=1500, n_celltype=1, morphology={"cell_elongation": elongation})
    cell_gdf = _cells(config)
    layout = tissue_layout(config, stage_rng(config.seed, "cells"))
    cells = cell_gdf.geometry.to_numpy()
    interior = ~shapely.intersects(cells, layout.region.boundary)
    angle, ratio = _axes(cells[interior])
    order = np.cos(2 * (angle - layout.nucleus_angle[interior]))
    se = ratio.std() / math.sqrt(interior.sum())
    assert abs(ratio.mean() - elongation) + 5 * se < 0.2 * elongation
    assert order.mean() - 5 * order.std() / math.sqrt(interior.sum()) > 0.6


def _enrichment_z(xy: np.ndarray, labels: np.ndarray, rng: np.random.Generator, n_perm: int = 200) -> np.ndarray:
    # Neighbourhood enrichment as squidpy computes it: type-pair edge counts on the Delaunay graph
    # against label permutations, as z-scores.
    tri = Delaunay(xy)
    edges = np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [0, 2]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    k = labels.max() + 1

    def counts(lab: np.ndarray) -> np.ndarray:
        a, b = lab[edges[:, 0]], lab[edges[:, 1]]
        c = np.bincount(a * k + b, minlength=k * k).reshape(k, k)
        return c + c.T

    observed = counts(labels)
    null = np.stack([counts(rng.permutation(labels)) for _ in range(n_perm)])
    return (observed - null.mean(axis=0)) / null.std(axis=0)


@pytest.mark.parametrize("pattern", ["domains", "mixed"])
def test_neighbourhood_enrichment(pattern, tissue):
    if pattern == "domains":
        config, cell_gdf = tissue
    else:
        config = _config(tissue={"pattern": "mixed"})
        cell_gdf = _cells(config)
    assert config.tissue.pattern == pattern
    xy = cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy()
    labels = cell_gdf["celltype"].map({"ct_0": 0, "ct_1": 1, "ct_2": 2}).to_numpy()
    z = _enrichment_z(xy, labels, np.random.default_rng(0))
    if pattern == "domains":
        assert np.diag(z).min() > 10  # the issue: mixed never leaves ±2.2
    else:
        # z is N(0, 1) per pair without structure; a few pairs, |z| < 4 covers them all
        assert np.abs(z).max() < 4


def test_tiles_do_not_change_the_cells(monkeypatch):
    import STpuppeteer.stages.tiles as tiles_module

    config = _config(seed=6, n_cells=2500, tissue={"gap_fraction": 0.05})
    whole, whole_sites = _cells(config), tissue_layout(config, stage_rng(config.seed, "cells")).centres
    monkeypatch.setattr(tiles_module, "TILE_UM", 300.0)
    tiled, tiled_sites = _cells(config), tissue_layout(config, stage_rng(config.seed, "cells")).centres
    assert not np.array_equal(whole_sites, tiled_sites)  # the smaller tiles did number the cells anew
    # Matched by their sites: the nuclei (their shapes, and so the off-centre shifts of elongated cells'
    # nuclei, nucleus_x/y) are drawn per tile, the cells are not.
    a = whole.iloc[np.lexsort(whole_sites.T)]
    b = tiled.iloc[np.lexsort(tiled_sites.T)]
    np.testing.assert_array_equal(whole_sites[np.lexsort(whole_sites.T)], tiled_sites[np.lexsort(tiled_sites.T)])
    diff = shapely.area(shapely.symmetric_difference(a.geometry.to_numpy(), b.geometry.to_numpy()))
    assert diff.max() < 1e-6
