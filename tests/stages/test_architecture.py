"""Named tissue architectures: each keeps the promise of its roles, measured against permutation nulls.

Neighbourhood statistics are z-scores against label permutations on the Delaunay graph of the
cell centres (``tests/neighbourhood.py``: squidpy's ``nhood_enrichment`` statistic; squidpy is not
a test dependency). Thresholds sit well below the measured values (docs/model_tissue.md) and far
above what the null allows (|z| of a few).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree

from neighbourhood import delaunay_edges, enrichment_z
from STpuppeteer._random import stage_rng
from STpuppeteer.config import SimulationConfig
from STpuppeteer.pipeline.cell_store import CellStore
from STpuppeteer.stages.architecture import gland_lumen_fraction
from STpuppeteer.stages.positions import tissue_region
from STpuppeteer.stages.spatial_pattern import allocate_counts
from STpuppeteer.stages.tissue import generate_cells, tissue_layout

CORTEX_TYPES = ["Astrocyte", "L6 CT", "L2/3 IT", "Pvalb interneuron", "L4 IT", "L5 ET"]


def _config(architecture: object, *, seed: int = 1, n_cells: int = 3000, **tissue: object) -> SimulationConfig:
    return SimulationConfig(seed=seed, n_cells=n_cells, n_celltype=4, tissue={"architecture": architecture, **tissue})


def _layout(config: SimulationConfig):
    return tissue_layout(config, stage_rng(config.seed, "cells"))


def _cells(config: SimulationConfig):
    return generate_cells(config, stage_rng(config.seed, "cells"))


def _codes(cell_gdf, names: list[str]) -> np.ndarray:
    return cell_gdf["celltype"].map({name: i for i, name in enumerate(names)}).to_numpy()


def _binomial_z(hits: int, n: int, p: float) -> float:
    return (hits / n - p) / math.sqrt(p * (1 - p) / n)


def _two_proportion_z(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    pooled = (hits_a + hits_b) / (n_a + n_b)
    return (hits_a / n_a - hits_b / n_b) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))


# --- glands ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def glands():
    config = _config("glands")
    cell_gdf = _cells(config)
    region = _layout(config).region
    gaps = tissue_region(config.tissue, config.n_cells).difference(region)
    return config, cell_gdf, gaps


def test_glands_cut_their_own_lumens(glands):
    config, _, gaps = glands
    assert config.tissue.gap_fraction == 0  # the config keeps what the user wrote
    outline = config.n_cells / config.tissue.density_per_mm2 * 1e6
    nominal = gland_lumen_fraction(config.tissue, epithelial_share=0.25, lining_cells=2.0)
    # merged lumens and lumens cut by the edge take less than nominal (seen 0.052 of 0.056)
    assert 0.5 * nominal <= gaps.area / outline <= 1.05 * nominal


def test_epithelium_lines_the_lumens(glands):
    config, cell_gdf, gaps = glands
    codes = _codes(cell_gdf, config.celltype_names)
    touching = shapely.dwithin(cell_gdf.geometry.to_numpy(), gaps, 1.0)
    epithelial = int((codes[touching] == 0).sum())
    # Null: labels independent of place, so the epithelium's share of the gap-touching cells is its share
    # of all (1/4), with a binomial s.e.; measured z ≈ 23 (179 of 179 cells touching a lumen).
    assert epithelial / touching.sum() >= 0.9
    assert _binomial_z(epithelial, int(touching.sum()), 0.25) > 10
    z = enrichment_z(delaunay_edges(cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy()), codes, np.random.default_rng(0))
    assert np.diag(z).min() > 10  # epithelium and the stroma's domains; measured 69–78


def test_myoepithelium_rings_the_epithelium_with_named_types():
    # The program model's names: roles come from them (luminal epithelium, basal/myoepithelial ring).
    config = SimulationConfig.from_preset("breast_programs", n_cells=3000, seed=2, tissue={"architecture": "glands"})
    layout = _layout(config)
    names = config.celltype_names
    epithelium, myo = names.index("Luminal epithelial (ER+)"), names.index("Basal/myoepithelial")
    gaps = tissue_region(config.tissue, config.n_cells).difference(layout.region)
    distance = shapely.distance(gaps, shapely.points(layout.centres))
    # the ring lies outside the lining (medians measured 56–63 and 33–35 µm from the lumens)
    assert np.median(distance[layout.codes == myo]) > np.quantile(distance[layout.codes == epithelium], 0.75)
    z = enrichment_z(delaunay_edges(layout.centres), layout.codes, np.random.default_rng(0))
    assert z[epithelium, myo] > 5  # measured 6–12 over four seeds: they touch more than shuffled labels do
    assert z[myo, myo] > 5  # a ring, not scattered cells (measured 14–22)


# --- tumour ------------------------------------------------------------------------------------------
def _immune_tumour_z(edges: np.ndarray, codes: np.ndarray, rng: np.random.Generator, n_perm: int = 200) -> float:
    # Immune–tumour contacts against a null that keeps the nests and shuffles the other cells' labels:
    # do immune cells sit where they touch tumour more than stroma cells do?
    def contacts(labels: np.ndarray) -> int:
        a, b = labels[edges[:, 0]], labels[edges[:, 1]]
        return int((((a == 0) & (b == 1)) | ((a == 1) & (b == 0))).sum())

    others = np.flatnonzero(codes != 0)
    null = []
    for _ in range(n_perm):
        shuffled = codes.copy()
        shuffled[others] = rng.permutation(codes[others])
        null.append(contacts(shuffled))
    return (contacts(codes) - np.mean(null)) / np.std(null)


def _immune_share_by_depth(layout, bins: list[float]) -> list[tuple[int, int]]:
    # (immune cells, tumour + immune cells) at each depth into the tumour, in cell spacings from the
    # nearest stroma cell: the first bin is the invasive margin, the next ones inside the nests.
    codes, xy = layout.codes, layout.centres
    spacing = math.sqrt(layout.region.area / len(xy))
    depth = cKDTree(xy[codes >= 2]).query(xy)[0] / spacing
    tumour_or_immune = codes <= 1
    out = []
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        cells = tumour_or_immune & (depth >= lo) & (depth < hi)
        out.append((int((codes[cells] == 1).sum()), int(cells.sum())))
    return out


@pytest.fixture(scope="module")
def tumours():
    return {
        infiltration: _layout(_config({"kind": "tumour", "infiltration": infiltration}, n_cells=6000))
        for infiltration in (0.0, 0.3)
    }


def test_immune_cells_touch_the_tumour(tumours):
    layout = tumours[0.3]
    z = _immune_tumour_z(delaunay_edges(layout.centres), layout.codes, np.random.default_rng(0))
    assert z > 10  # measured ≈ 22–25 (4,000 cells, three seeds); the null gives |z| of a few


def test_tumour_forms_nests(tumours):
    layout = tumours[0.3]
    z = enrichment_z(delaunay_edges(layout.centres), layout.codes, np.random.default_rng(1))
    assert z[0, 0] > 20  # measured ≈ 60–70


def test_infiltration_thins_with_depth_and_follows_its_knob(tumours):
    bins = [0.0, 1.5, 3.0, 6.0, np.inf]
    margin, shallow, middle, deep = _immune_share_by_depth(tumours[0.3], bins)
    # margin immune-rich (measured ≈ 0.94), then falling with depth (≈ 0.44, 0.13, 0.02)
    assert margin[0] / margin[1] > 0.8
    assert _two_proportion_z(*shallow, *middle) > 3
    assert _two_proportion_z(*middle, *deep) > 3
    # immune-excluded nests: next to no immune cell beyond the margin's reach (measured 0.006)
    excluded_middle = _immune_share_by_depth(tumours[0.0], bins)[2]
    assert _two_proportion_z(*middle, *excluded_middle) > 3
    assert excluded_middle[0] / excluded_middle[1] < 0.03


# --- cortex ------------------------------------------------------------------------------------------
def _cortex_config(curvature: float | None, *, seed: int = 3) -> SimulationConfig:
    proportions = [0.06, 0.24, 0.22, 0.06, 0.18, 0.24]
    return SimulationConfig(
        seed=seed,
        n_cells=3000,
        n_markers=20,
        celltype_names=CORTEX_TYPES,
        tissue={"architecture": {"kind": "cortex", "curvature_radius_um": curvature}, "proportions": proportions},
    )


def test_cortical_layers_are_ordered_and_scattered_types_are_not():
    config = _cortex_config(1500.0)
    layout = _layout(config)
    names = config.celltype_names
    layers = [names.index(n) for n in ("L2/3 IT", "L4 IT", "L5 ET", "L6 CT")]  # ordered by the names' numbers
    y = layout.centres[:, 1]
    medians = [np.median(y[layout.codes == code]) for code in layers]
    assert np.all(np.diff(medians) > 0), medians
    z = enrichment_z(delaunay_edges(layout.centres), layout.codes, np.random.default_rng(0))
    assert min(z[c, c] for c in layers) > 20  # measured ≈ 60–90
    for name in ("Astrocyte", "Pvalb interneuron"):  # scattered uniformly: the null's N(0, 1)
        assert abs(z[names.index(name), names.index(name)]) < 4


def _curvature(config: SimulationConfig) -> tuple[float, float]:
    # y = a_layer + b (x − x̄)² over the layered cells, one intercept per layer: b and its z against b = 0.
    layout = _layout(config)
    layers = [config.celltype_names.index(n) for n in ("L2/3 IT", "L4 IT", "L5 ET", "L6 CT")]
    layered = np.isin(layout.codes, layers)
    (x, y), codes = layout.centres[layered].T, layout.codes[layered]
    design = np.column_stack([(x - x.mean()) ** 2] + [(codes == c).astype(float) for c in layers])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    sigma2 = np.sum((y - design @ coef) ** 2) / (len(y) - design.shape[1])
    return coef[0], coef[0] / math.sqrt(sigma2 * np.linalg.inv(design.T @ design)[0, 0])


def test_cortical_layers_curve():
    # Layers are arcs about a centre beyond the last one: y rises with (x − x̄)² as 1 / (2 ρ), ρ the arcs'
    # radius, R + half the tissue's height on average (the first layer R + height, the last R).
    config = _cortex_config(1500.0)
    height = tissue_region(config.tissue, config.n_cells).bounds[3]
    b, z = _curvature(config)
    assert z > 5  # measured ≈ 11
    assert 0.5 < b * 2 * (1500.0 + 0.5 * height) < 1.5  # measured ≈ 0.75
    _, z_straight = _curvature(_cortex_config(None))
    assert abs(z_straight) < 4  # a straight cortex: the null's N(0, 1)


# --- all architectures --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["glands", "tumour", "cortex"])
def test_counts_are_exact_with_prototypes_and_fuzziness(kind):
    proportions = [0.5, 0.3, 0.15, 0.05]
    prototypes = [{"kind": "cluster", "celltype": "ct_3", "radius_um": 30}]
    config = _config(kind, seed=5, n_cells=1500, proportions=proportions, prototypes=prototypes, fuzziness=0.1)
    codes = _layout(config).codes
    np.testing.assert_array_equal(np.bincount(codes, minlength=4), allocate_counts(1500, np.array(proportions)))


@pytest.mark.parametrize("kind", ["tumour", "cortex"])
def test_architecture_changes_types_not_cells(kind):
    # ct_k types share one shape, so with no gaps added the cells are those of the default pattern.
    plain = _cells(SimulationConfig(seed=7, n_cells=800, n_celltype=4))
    shaped = _cells(_config(kind, seed=7, n_cells=800))
    assert (shapely.to_wkb(plain.geometry.to_numpy()) == shapely.to_wkb(shaped.geometry.to_numpy())).all()
    assert (plain["celltype"] != shaped["celltype"]).mean() > 0.3


def test_glands_with_gaps_given_use_them():
    config = _config("glands", seed=8, n_cells=800, gap_fraction=0.1)
    gapped = SimulationConfig(seed=8, n_cells=800, n_celltype=4, tissue={"gap_fraction": 0.1})
    assert shapely.equals(_layout(config).region, _layout(gapped).region)


def test_tiles_and_the_cell_store_do_not_change_the_types(monkeypatch):
    import STpuppeteer.stages.tiles as tiles_module

    config = _config("glands", seed=6, n_cells=2500)
    whole = _cells(config)
    store = CellStore.generate(config, stage_rng(config.seed, "cells")).gdf()
    np.testing.assert_array_equal(whole["celltype"].to_numpy(), store["celltype"].to_numpy())
    sites = _layout(config).centres
    monkeypatch.setattr(tiles_module, "TILE_UM", 300.0)
    tiled, tiled_sites = _cells(config), _layout(config).centres
    assert not np.array_equal(sites, tiled_sites)  # the smaller tiles did number the cells anew
    a, b = np.lexsort(sites.T), np.lexsort(tiled_sites.T)
    np.testing.assert_array_equal(sites[a], tiled_sites[b])
    np.testing.assert_array_equal(whole["celltype"].to_numpy()[a], tiled["celltype"].to_numpy()[b])
