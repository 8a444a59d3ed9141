"""Stage 4: every detected molecule, where it is, and the truth behind it.

Each true count becomes a molecule of its source cell. Cells are processed in fixed
blocks of ``config.transcripts.block_size`` rows (``"auto"``: from the gene totals,
:mod:`STpuppeteer.stages.block_size`), background molecules in fixed square
tiles, each drawn by the cell block that owns it (its molecules follow the block's); each
block or tile draws from its own generator keyed by its index
(:func:`~STpuppeteer._random.block_rng`), so splitting the work differently gives the same
molecules. The columns of the returned ``trs_df`` are documented in ``docs/data_contract.md``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from STpuppeteer._parallel import local_threads, map_blocks
from STpuppeteer._random import block_rng
from STpuppeteer.stages.block_size import resolve_block_size
from STpuppeteer.stages.transcripts.background import BackgroundTiles, ambient_weights, block_background, locate_part
from STpuppeteer.stages.transcripts.context import TranscriptContext, cell_blocks, transcript_context
from STpuppeteer.stages.transcripts.labels import MoleculeLabels
from STpuppeteer.stages.transcripts.molecules import cell_block_molecules

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from dask.distributed import Client

    from STpuppeteer.config import SimulationConfig

__all__ = ["generate_transcripts"]


# ---------------------------------------------------------------------------------------
# Stage 4
# ---------------------------------------------------------------------------------------
def generate_transcripts(
    count_array: np.ndarray,
    cell_gdf: gpd.GeoDataFrame,
    gpar_df: pd.DataFrame,
    rng: np.random.Generator,
    *,
    config: SimulationConfig,
    client: Client | None = None,
    blocks_per_task: int = 1,
    ambient_totals: np.ndarray | None = None,
) -> pd.DataFrame:
    """Turn true counts into molecules with coordinates, instrument effects and ground truth.

    Parameters
    ----------
    count_array
        True counts (cells × genes), rows in the order of ``cell_gdf``.
    cell_gdf
        Cells: ``cell_id``, ``celltype``, ``geometry``, ``nucleus``, ``leakage_percentage``
        (0 if absent), optionally ``z``.
    gpar_df
        Genes: ``feature_name``, ``gene_leakage`` (0 if absent).
    rng
        The stage's generator; blocks and tiles draw from keyed children of it.
    config
        The simulation config (``leak_dist_factor``, ``transcripts``, ``instrument``,
        ``tissue.section_thickness_um``).
    client
        A ``dask.distributed.Client``: the cell blocks run as its tasks (the shared geometry
        is scattered once) and come back in block order; the molecules are the same as
        without one. ``None`` runs them here (``config.transcripts.n_threads`` threads).
    blocks_per_task
        Cell blocks per Dask task (only with ``client``); never changes the molecules.
    ambient_totals
        The gene totals ambient molecules follow (``ambient_weights``): a simulation passes the
        count model's expected totals (``CountModel.expected_gene_totals``); ``None``: the
        totals of ``count_array``. ``block_size: auto`` is decided from the same totals.

    Returns
    -------
    ``trs_df``, one row per detected molecule (columns in ``docs/data_contract.md``).

    Examples
    --------
    >>> from STpuppeteer import SimulationConfig, SpotlessSimulator
    >>> sim = SpotlessSimulator(SimulationConfig(seed=0, n_cells=50, leakage_by_gene=0.2))
    >>> trs = sim.generate_transcripts()
    >>> int(trs["origin"].isin(["cell", "leaked"]).sum()) == int(sim.count_array.sum())
    True
    """
    counts = np.asarray(count_array)
    if counts.shape != (len(cell_gdf), len(gpar_df)):
        msg = f"count_array has shape {counts.shape}; expected (n_cells, n_genes) = ({len(cell_gdf)}, {len(gpar_df)})."
        raise ValueError(msg)
    ctx = transcript_context(cell_gdf, gpar_df, rng, config=config, counts=counts)
    totals = counts.sum(axis=0, dtype=np.float64) if ambient_totals is None else ambient_totals
    size = resolve_block_size(config.transcripts.block_size, gene_totals=totals, n_cells=len(cell_gdf))
    blocks = cell_blocks(len(cell_gdf), size)
    weights = ambient_weights(totals, config)
    tiles = BackgroundTiles.build(ctx.bounds, centres=ctx.geo.cells.centre, block_size=size)
    items = [(start, stop, block_rng(rng, b), tiles.of_block(b)) for b, (start, stop) in enumerate(blocks)]
    shared = _Shared(ctx, weights, rng)
    if client is not None:
        parts = [p for block in map_blocks(_block_task, items, shared=shared, client=client,
                                           blocks_per_task=blocks_per_task) for p in block]
    else:
        # Blocks are independent (own keyed generators) and numpy releases the GIL, so threads
        # give the same molecules as one loop, only sooner. A block's cells and its background
        # tiles (keyed by the tiles) are two tasks: with fewer blocks than threads (a small run
        # has one block) they still run side by side.
        tasks = [(task, item) for item in items for task in (_cells_task, _background_task)]
        n_threads = min(local_threads(config), len(tasks))
        if n_threads > 1:
            with ThreadPoolExecutor(max_workers=n_threads) as pool:
                done = list(pool.map(lambda t: t[0](shared, t[1]), tasks))
        else:
            done = [task(shared, item) for task, item in tasks]
        parts = [p for block in done for p in block]
    return MoleculeLabels.build(cell_gdf, gpar_df, config).frame(parts, n_threads=local_threads(config))


@dataclass(frozen=True)
class _Shared:
    """What every block reads: the context, the ambient weights and the stage's generator (for the tiles' keys)."""

    ctx: TranscriptContext
    weights: np.ndarray
    rng: np.random.Generator


def _block_task(
    shared: _Shared, item: tuple[int, int, np.random.Generator, BackgroundTiles]
) -> list[dict[str, np.ndarray]]:
    """One block: its cells' molecules, then those of the background tiles it owns."""
    return _cells_task(shared, item) + _background_task(shared, item)


def _cells_task(
    shared: _Shared, item: tuple[int, int, np.random.Generator, BackgroundTiles]
) -> list[dict[str, np.ndarray]]:
    """A block's cells' molecules (from the block's generator)."""
    start, stop, rng, _ = item
    return [cell_block_molecules(shared.ctx, start, stop, rng)]


def _background_task(
    shared: _Shared, item: tuple[int, int, np.random.Generator, BackgroundTiles]
) -> list[dict[str, np.ndarray]]:
    """The molecules of the background tiles a block owns (each tile from its own key), located."""
    background = block_background(shared.ctx, shared.weights, shared.rng, item[3])
    return [] if background is None else [locate_part(background, shared.ctx.geo.locator)]
