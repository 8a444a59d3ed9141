"""Xenium's nucleus_distance is the exact distance to the nearest nucleus, for every molecule."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from STpuppeteer._random import stage_rng
from STpuppeteer.config import SimulationConfig, preset_config
from STpuppeteer.geometry.nearest_nucleus import NearestNucleus
from STpuppeteer.pipeline.cell_store import CellStore
from STpuppeteer.simulation import simulate
from STpuppeteer.stages.transcripts import ambient_weights, transcript_context, unlocated_background


@pytest.fixture(scope="module")
def run():
    # Leakage, ambient molecules and controls: molecules in nuclei, in cytoplasm, between
    # cells and (added below) far outside the tissue.
    return simulate(preset_config("xenium", seed=5, n_cells=600))


def _exact(nuclei: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    _, distance = shapely.STRtree(nuclei).query_nearest(shapely.points(x, y), return_distance=True,
                                                        all_matches=False)
    return distance


def test_equals_the_nearest_polygon_search(run):
    cell_gdf, trs = run.cell_gdf, run.trs_df
    nuclei = cell_gdf["nucleus"].to_numpy()
    rng = np.random.default_rng(0)
    far = rng.uniform(-400, 1500, (3000, 2))  # background well outside the cells too
    x = np.concatenate([trs["x"].to_numpy(), far[:, 0]])
    y = np.concatenate([trs["y"].to_numpy(), far[:, 1]])
    landed = np.concatenate([trs["landed_cell_id"].to_numpy(), np.full(len(far), -1)])
    # The far points may land in a cell: give them their true cell, as the writers do.
    hit = shapely.STRtree(cell_gdf.geometry.to_numpy()).query(shapely.points(far), predicate="within")
    landed[len(trs) + hit[0]] = hit[1]
    got = NearestNucleus.build(nuclei, cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy()).distance(x, y, landed)
    np.testing.assert_allclose(got, _exact(nuclei, x, y), rtol=0, atol=1e-9)
    inside = got == 0
    assert 0.05 < inside.mean() < 0.8
    assert got.max() > 100


def test_store_and_polygon_array_agree():
    config = SimulationConfig(n_cells=3000, seed=2)
    store = CellStore.generate(config, stage_rng(2, "cells"))
    cell_gdf = store.gdf()
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-50, 2500, 20_000), rng.uniform(-50, 2500, 20_000)
    landed = np.full(len(x), -1)
    hit = shapely.STRtree(cell_gdf.geometry.to_numpy()).query(shapely.points(x, y), predicate="within")
    landed[hit[0]] = hit[1]
    centres = cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy()
    lookup = NearestNucleus.from_source(store, centres=store.nucleus_centre, bounds=store.nuclei.bounds())
    from_store = lookup.distance(x, y, landed)
    from_array = NearestNucleus.build(cell_gdf["nucleus"].to_numpy(), centres).distance(x, y, landed)
    np.testing.assert_array_equal(from_store, from_array)
    np.testing.assert_allclose(from_store, _exact(cell_gdf["nucleus"].to_numpy(), x, y), rtol=0, atol=1e-9)


def test_background_in_parts_equals_one_draw(run):
    # Fields of view of 100 µm: many background tiles on this small tissue.
    instrument = run.config.instrument.model_copy(update={"fov_size_um": 100.0})
    config = run.config.model_copy(update={"instrument": instrument})
    ctx = transcript_context(run.cell_gdf, run.gpar_df, stage_rng(5, "transcripts"), config=config, geometry=False)
    weights = ambient_weights(run.count_array.sum(axis=0), config)
    (whole,) = unlocated_background(ctx, weights, stage_rng(5, "transcripts"))
    parts = list(unlocated_background(ctx, weights, stage_rng(5, "transcripts"), max_molecules=500))
    assert len(parts) > 3
    assert all(len(p["x"]) >= 500 for p in parts[:-1])
    for key, value in whole.items():
        np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), value)


def test_non_star_nuclei_and_crowded_candidates():
    # A ring of 40 nuclei at nearly equal distance from the origin: a molecule there has
    # more equally good candidates than the first search lists (it must widen it). Next to
    # it, a U-shaped nucleus that is not star-shaped about its centre, whose neighbours must
    # leave it to the exact search.
    rng = np.random.default_rng(11)
    angle = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    centres = np.column_stack([100 * np.cos(angle), 100 * np.sin(angle)])
    nuclei = [shapely.Point(c).buffer(r) for c, r in zip(centres, rng.uniform(1, 3, 40), strict=True)]
    u_shape = shapely.Polygon([(200, 0), (206, 0), (206, 6), (204, 6), (204, 2), (202, 2), (202, 6), (200, 6)])
    nuclei += [u_shape, shapely.box(207, 0, 209, 3)]
    centres = np.vstack([centres, [[203, 4], [208, 1.5]]])
    nuclei = np.array(nuclei, dtype=object)
    x = np.concatenate([[0.0, 0.5], rng.uniform(195, 215, 3000), rng.uniform(-150, 150, 2000)])
    y = np.concatenate([[0.0, -0.3], rng.uniform(-5, 12, 3000), rng.uniform(-150, 150, 2000)])
    # Molecules inside the two right-hand nuclei have landed in their cells (rows 40 and 41).
    landed = np.full(len(x), -1)
    for row in (40, 41):
        landed[shapely.contains_xy(nuclei[row], x, y)] = row
    got = NearestNucleus.build(nuclei, centres).distance(x, y, landed)
    np.testing.assert_allclose(got, _exact(nuclei, x, y), rtol=0, atol=1e-9)
    assert (got == 0).sum() > 50
