"""Stage 4: every detected molecule, where it is, and the truth behind it.

Each true count becomes a molecule of its source cell. Cells are processed in fixed
blocks of ``config.transcripts.block_size`` rows, background molecules in fixed square
tiles (the FOV grid); each block or tile draws from its own generator keyed by its index
(:func:`~STpuppeteer._random.block_rng`), so splitting the work differently gives the same
molecules. The columns of the returned ``trs_df`` are documented in ``docs/data_contract.md``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from STpuppeteer._parallel import local_threads, map_blocks
from STpuppeteer._random import block_rng
from STpuppeteer.stages.transcripts.background import ambient_weights, background_parts
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
    blocks = cell_blocks(len(cell_gdf), config.transcripts.block_size)
    weights = ambient_weights(counts.sum(axis=0, dtype=np.float64), config)
    if client is not None:
        items = [(start, stop, block_rng(rng, b)) for b, (start, stop) in enumerate(blocks)]
        parts = list(map_blocks(_cell_block_task, items, shared=ctx, client=client, blocks_per_task=blocks_per_task))
        parts += background_parts(ctx, weights, rng)
    else:
        def run_block(block: int) -> dict[str, np.ndarray]:
            start, stop = blocks[block]
            return cell_block_molecules(ctx, start, stop, block_rng(rng, block))

        n_threads = min(local_threads(config), max(len(blocks), 1))
        if n_threads > 1:
            # Blocks are independent (own keyed generator) and numpy releases the GIL, so threads
            # give the same molecules as one loop, only sooner. The background's tiles are keyed
            # too, so it is drawn alongside the blocks and still comes last.
            with ThreadPoolExecutor(max_workers=n_threads) as pool:
                background = pool.submit(background_parts, ctx, weights, rng)
                parts = list(pool.map(run_block, range(len(blocks))))
                parts += background.result()
        else:
            parts = [run_block(b) for b in range(len(blocks))]
            parts += background_parts(ctx, weights, rng)
    return MoleculeLabels.build(cell_gdf, gpar_df, config).frame(parts, n_threads=local_threads(config))


def _cell_block_task(ctx: TranscriptContext, item: tuple[int, int, np.random.Generator]) -> dict[str, np.ndarray]:
    start, stop, rng = item
    return cell_block_molecules(ctx, start, stop, rng)
