"""The background: tiles drawn by the cell blocks that own them, genes from the expected gene totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from STpuppeteer import SimulationConfig, SpotlessSimulator
from STpuppeteer._random import stage_rng
from STpuppeteer.stages.counts import CountModel, generate_counts
from STpuppeteer.stages.genes import generate_gene_parameters
from STpuppeteer.stages.programs import build_program_gpar_df
from STpuppeteer.stages.transcripts import (
    BACKGROUND_TILE_UM,
    BackgroundTiles,
    ambient_weights,
    block_background,
    transcript_context,
    unlocated_background,
)

BACKGROUND = {
    "ambient_rate_per_um2": 0.3,
    "neg_control_probe_rate_per_um2": 0.01,
    "unassigned_codeword_rate_per_um2": 0.005,
}


@pytest.fixture(scope="module")
def run():
    # 9 background tiles over 6 blocks of cells.
    config = SimulationConfig(seed=4, n_cells=700, instrument=BACKGROUND, transcripts={"block_size": 128})
    return SpotlessSimulator(config).run()


def test_tiles_cover_the_box_and_go_to_the_block_of_their_lowest_centre():
    rng = np.random.default_rng(0)
    centres = rng.uniform([0, 0], [1000, 700], size=(500, 2))
    centres[:, 0] = np.where(centres[:, 0] > 800, centres[:, 0] - 300, centres[:, 0])  # leave x > 800 empty
    bounds = np.array([-20.0, 5.0, 1010.0, 720.0])
    tiles = BackgroundTiles.build(bounds, centres=centres, block_size=64)
    side = tiles.box[:, [1, 3]] - tiles.box[:, [0, 2]]
    assert np.prod(side, axis=1).sum() == pytest.approx(1030 * 715)
    assert (side > 0).all() and (side <= BACKGROUND_TILE_UM).all()
    col = np.floor(centres[:, 0] / BACKGROUND_TILE_UM)
    row = np.floor(centres[:, 1] / BACKGROUND_TILE_UM)
    empty = []
    for k in range(len(tiles)):
        inside = np.flatnonzero((col == tiles.i[k]) & (row == tiles.j[k]))
        if len(inside):
            assert tiles.block[k] == inside.min() // 64
        else:
            empty.append(k)
    assert len(empty) >= 3  # the column beyond x = 1000 holds no centre
    held = np.setdiff1d(np.arange(len(tiles)), empty)
    mid = np.column_stack([tiles.box[:, :2].mean(axis=1), tiles.box[:, 2:].mean(axis=1)])
    for k in empty:  # a tile without a centre goes with a nearest tile that has one
        d = np.hypot(*(mid[held] - mid[k]).T)
        assert tiles.block[k] in set(tiles.block[held[np.isclose(d, d.min())]])


def test_blocks_draw_exactly_the_tiles_of_one_whole_draw(run):
    config = run.config
    rng = stage_rng(config.seed, "transcripts")
    ctx = transcript_context(run.cell_gdf, run.gpar_df, rng, config=config)
    expected = CountModel.build(run.gpar_df, run.cell_gdf, config=config).expected_gene_totals()
    weights = ambient_weights(expected, config)
    (whole,) = unlocated_background(ctx, weights, rng)
    tiles = BackgroundTiles.build(
        ctx.bounds,
        centres=run.cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy(),
        block_size=config.transcripts.block_size,
    )
    n_blocks = int(np.ceil(config.n_cells / config.transcripts.block_size))
    assert len(set(tiles.block)) >= 3 and len(tiles) >= 9
    parts = [block_background(ctx, weights, rng, tiles.of_block(b)) for b in range(n_blocks)]
    joined = {key: np.concatenate([p[key] for p in parts if p is not None]) for key in whole}
    # The blocks hold the same molecules, tile by tile, in another order of the tiles.
    order = {(i, j): k for k, (i, j) in enumerate(zip(tiles.i, tiles.j, strict=True))}
    tile_of = np.array(
        [
            order[(int(np.floor(x / BACKGROUND_TILE_UM)), int(np.floor(y / BACKGROUND_TILE_UM)))]
            for x, y in zip(joined["x"], joined["y"], strict=True)
        ]
    )
    sort = np.argsort(tile_of, kind="stable")
    for key, value in whole.items():
        np.testing.assert_array_equal(joined[key][sort], value)
    # The simulation's background is these molecules, block by block (genes from the expected totals).
    trs = run.trs_df[run.trs_df["origin"].isin(["ambient", "control"])]
    np.testing.assert_array_equal(trs["x"].to_numpy(), joined["x"])
    np.testing.assert_array_equal(
        pd.Index(run.trs_df["feature_name"].cat.categories).get_indexer(trs["feature_name"].astype(str)), joined["gene"]
    )


def test_simulated_ambient_genes_follow_the_expected_totals(run):
    trs = run.trs_df
    ambient = trs[trs["origin"] == "ambient"]
    totals = CountModel.build(run.gpar_df, run.cell_gdf, config=run.config).expected_gene_totals()
    weights = totals / totals.sum()
    genes = run.gpar_df["feature_name"].to_numpy()
    observed = ambient["true_feature_name"].astype(str).value_counts().reindex(genes, fill_value=0).to_numpy()
    n = observed.sum()
    # Pool the genes expected fewer than 5 times, so the chi-square approximation holds.
    small = weights * n < 5
    obs, exp = observed[~small], weights[~small] * n
    if small.any():
        obs, exp = np.append(obs, observed[small].sum()), np.append(exp, weights[small].sum() * n)
    assert stats.chisquare(obs, exp).pvalue > 1e-3
    # The count is Poisson(rate × area) over the cells' box.
    b = run.cell_gdf.total_bounds
    mean = BACKGROUND["ambient_rate_per_um2"] * (b[2] - b[0]) * (b[3] - b[1])
    assert abs(n - mean) < 4 * np.sqrt(mean)
    # The blocks come in order, each with the background of its tiles after its cells' molecules.
    source = trs["cell_id"].to_numpy()
    block = source[source >= 0] // run.config.transcripts.block_size
    assert (np.diff(block) >= 0).all()
    is_background = source < 0
    starts = np.flatnonzero(is_background[1:] & ~is_background[:-1]) + 1
    stops = np.flatnonzero(~is_background[1:] & is_background[:-1]) + 1
    assert len(starts) >= 2 and not is_background[0]
    for start, stop in zip(starts, [*stops, len(source)], strict=False):
        before = source[start - 1] // run.config.transcripts.block_size
        assert stop == len(source) or source[stop] // run.config.transcripts.block_size == before + 1


def _counts_test(gpar: pd.DataFrame, cells: pd.DataFrame, config: SimulationConfig) -> None:
    """Summed drawn counts within 4.5 standard errors of the expected totals, gene by gene."""
    counts = generate_counts(gpar, cells, stage_rng(config.seed, "counts"), config=config).astype(np.float64)
    expected = CountModel.build(gpar, cells, config=config).expected_gene_totals()
    # Cells of a type are independent and identically distributed (scale 1): the variance of a
    # type's total is its cells' number times their sample variance.
    var = sum(len(g) * g.var(axis=0, ddof=1) for _, g in pd.DataFrame(counts).groupby(cells["celltype"].to_numpy()))
    z = (counts.sum(axis=0) - expected) / np.sqrt(var.to_numpy())
    assert np.abs(z).max() < 4.5, z
    assert abs(np.mean(z**2) - 1) < 5 * np.sqrt(2 / len(z)) + 0.1


def test_expected_gene_totals_of_the_prior_model():
    config = SimulationConfig(seed=2, n_genes=60, n_celltype=3, n_markers=10, expression_scale=3.0)
    gpar = generate_gene_parameters(config, np.random.default_rng(2))
    cells = pd.DataFrame({"celltype": np.repeat(config.celltype_names, 3000), "scale": 1.0})
    _counts_test(gpar, cells, config)


def test_expected_gene_totals_of_the_program_model_with_activation_spread():
    config = SimulationConfig(
        seed=3,
        programs=[{"name": "p", "loading": {"a": 2.0, "b": 10.0}}, {"name": "q", "loading": {"c": 4.0}}],
        cell_type_specs={
            "A": {"program_activations": {"p": 1.0}, "activation_sd": 0.6},
            "B": {"program_activations": {"q": 0.2}, "activation_sd": {"q": 1.0}},
        },
        expression_baseline=0.5,
        overdispersion_cv=0.4,
    )
    gpar = build_program_gpar_df(config)
    cells = pd.DataFrame({"celltype": np.repeat(config.celltype_names, 6000), "scale": 1.0})
    _counts_test(gpar, cells, config)
