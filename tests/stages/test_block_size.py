"""``transcripts.block_size``: an integer is used as given; ``"auto"`` is chosen from molecules and genes."""

from __future__ import annotations

import numpy as np
import pytest

from STpuppeteer.config import SimulationConfig, preset_config
from STpuppeteer.simulation import SpotlessSimulator
from STpuppeteer.stages.block_size import (
    AUTO_MAX_CELLS,
    AUTO_MIN_CELLS,
    COUNTS_PER_BLOCK,
    MOLECULES_PER_BLOCK,
    resolve_block_size,
)
from STpuppeteer.stages.counts import CountModel


def _totals(per_cell: float, n_genes: int, n_cells: int = 1000) -> np.ndarray:
    return np.full(n_genes, per_cell * n_cells / n_genes)


@pytest.mark.parametrize("size", [1, 40, 4096, 50_000])
def test_an_integer_block_size_is_used_as_given(size):
    assert resolve_block_size(size, gene_totals=_totals(5_000, 20_000), n_cells=1000) == size


@pytest.mark.parametrize("per_cell", [1, 73, 200, 380, 1_300, 1_516, 5_000, 10**6])
@pytest.mark.parametrize("n_genes", [10, 300, 1_000, 5_001, 20_000])
def test_auto_is_the_largest_power_of_two_whose_block_fits(per_cell, n_genes):
    size = resolve_block_size("auto", gene_totals=_totals(per_cell, n_genes), n_cells=1000)
    assert AUTO_MIN_CELLS <= size <= AUTO_MAX_CELLS and size & (size - 1) == 0

    def fits(cells: int) -> bool:
        return cells * per_cell <= MOLECULES_PER_BLOCK * (1 + 1e-12) and cells * n_genes <= COUNTS_PER_BLOCK

    assert fits(size) or size == AUTO_MIN_CELLS
    assert size == AUTO_MAX_CELLS or not fits(2 * size)


def test_auto_keeps_a_200_molecule_slide_whole_and_cuts_5000_genes():
    # Issue 17's target slide (~200 molecules, ~400 genes) keeps the default 4,096 cells; the Prime 5K
    # panel (~1,500 expected molecules, 5,001 genes) gets blocks of 512: about as many molecules.
    assert resolve_block_size("auto", gene_totals=_totals(200, 400), n_cells=1000) == 4096
    assert resolve_block_size("auto", gene_totals=_totals(1_516, 5_001), n_cells=1000) == 512


def test_the_5k_preset_resolves_to_blocks_of_512_cells():
    cfg = preset_config("xenium_prime_5k", seed=0, n_cells=300)
    assert cfg.transcripts.block_size == "auto"
    sim = SpotlessSimulator(cfg)
    sim.generate_gene_parameters()
    sim.generate_cells()
    totals = CountModel.build(sim.gpar_df, sim.cell_gdf, config=cfg).expected_gene_totals()
    assert resolve_block_size("auto", gene_totals=totals, n_cells=len(sim.cell_gdf)) == 512


@pytest.mark.parametrize(("value", "message"), [("big", "'big' is not allowed"), (0, "0 is out of range"),
                                                (2_000_000, "2000000 is out of range"), ("64", "'64' is not allowed")])
def test_a_bad_block_size_is_refused_naming_it(value, message):
    with pytest.raises(ValueError, match=f"block_size: {message}; expected an integer from 1 to 1,000,000 or 'auto'"):
        SimulationConfig(transcripts={"block_size": value})


def test_auto_survives_a_round_trip(tmp_path):
    cfg = SimulationConfig(transcripts={"block_size": "auto"})
    cfg.to_yaml(tmp_path / "c.yaml")
    assert SimulationConfig.from_yaml(tmp_path / "c.yaml").transcripts.block_size == "auto"
