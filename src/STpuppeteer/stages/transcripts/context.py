"""What every block of stage 4 shares: geometry, leakage, nuclear fractions, patterns, FOV efficiencies."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from STpuppeteer._parallel import local_threads
from STpuppeteer.stages.instrument import FovEfficiency
from STpuppeteer.stages.transcripts.geometry import CellGeometry
from STpuppeteer.stages.transcripts.localisation import GeneLocalisation

if TYPE_CHECKING:
    import geopandas as gpd

    from STpuppeteer.config import SimulationConfig

__all__ = ["TranscriptContext", "cell_blocks", "cell_bounds", "restrict_context", "transcript_context"]


@dataclass(frozen=True)
class TranscriptContext:
    """What every block of stage 4 reads (built by :func:`transcript_context`)."""

    config: SimulationConfig
    geo: CellGeometry | None
    counts: np.ndarray | None
    cell_leak: np.ndarray
    gene_leak: np.ndarray
    nuclear: np.ndarray
    fov: FovEfficiency
    bounds: np.ndarray
    localisation: GeneLocalisation | None = None


def cell_blocks(n_cells: int, block_size: int) -> list[tuple[int, int]]:
    """The fixed blocks of cell rows, ``(start, stop)``, that key the random streams of stages 3–4.

    Examples
    --------
    >>> cell_blocks(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    return [(start, min(start + block_size, n_cells)) for start in range(0, n_cells, block_size)]


def transcript_context(
    cell_gdf: gpd.GeoDataFrame,
    gpar_df: pd.DataFrame,
    rng: np.random.Generator,
    *,
    config: SimulationConfig,
    counts: np.ndarray | None = None,
    geometry: bool = True,
    bounds: np.ndarray | None = None,
) -> TranscriptContext:
    """What every block of stage 4 shares: the cells' geometry, leakage, FOV efficiencies.

    ``counts`` may be omitted when every block is given its own counts (streamed runs);
    without ``geometry`` the fans and landing grid are left out, for blocks that build their
    own with :func:`restrict_context` (bounded memory on large slides), and ``cell_gdf``
    need not hold polygons if the cells' ``bounds`` (``[xmin, ymin, xmax, ymax]``) are given.
    """
    thickness = config.tissue.section_thickness_um
    geo = CellGeometry.from_cells(cell_gdf, thickness=thickness, n_threads=local_threads(config)) if geometry else None
    if bounds is None:
        bounds = geo.bounds if geo is not None else cell_bounds(cell_gdf)
    genes = np.asarray(gpar_df["feature_name"], dtype=object)
    return TranscriptContext(
        config=config,
        geo=geo,
        counts=counts,
        cell_leak=_column(cell_gdf, "leakage_percentage", len(cell_gdf)),
        gene_leak=_column(gpar_df, "gene_leakage", len(gpar_df)),
        nuclear=_nuclear_fraction(config, genes),
        fov=FovEfficiency.build(config.instrument, bounds, rng),
        bounds=bounds,
        localisation=GeneLocalisation.build(config, gpar_df),
    )


def cell_bounds(cell_gdf: gpd.GeoDataFrame) -> np.ndarray:
    """``[xmin, ymin, xmax, ymax]`` of the cell polygons (the background molecules' box)."""
    b = shapely.bounds(np.asarray(cell_gdf.geometry.values, dtype=object))
    return np.array([np.nanmin(b[:, 0]), np.nanmin(b[:, 1]), np.nanmax(b[:, 2]), np.nanmax(b[:, 3])])


def restrict_context(ctx: TranscriptContext, geo: CellGeometry, rows: np.ndarray) -> TranscriptContext:
    """The context of just the cells ``rows``, whose geometry is ``geo`` (rows renumbered 0…len(rows)-1).

    ``geo`` is built for those cells alone (``CellGeometry.from_cells(cell_gdf.iloc[rows])``,
    or :meth:`~STpuppeteer.pipeline.cell_store.CellStore.geometry`). A cell's placement depends only
    on its own polygons, and landing only on the polygons that contain a point, so a block
    whose rows include every cell its molecules can reach gets the same molecules as with
    the whole tissue's geometry.
    """
    return replace(ctx, geo=geo, counts=None, cell_leak=ctx.cell_leak[rows])


def _column(df: pd.DataFrame, name: str, n: int) -> np.ndarray:
    if name not in df.columns:
        return np.zeros(n)
    values = np.asarray(df[name], dtype=float)
    if np.any(~np.isfinite(values) | (values < 0) | (values > 1)):
        msg = f"column {name!r} must hold probabilities in [0, 1]."
        raise ValueError(msg)
    return values


def _nuclear_fraction(config: SimulationConfig, genes: np.ndarray) -> np.ndarray:
    """Per-gene probability of the nucleus; NaN means 'uniform in the cell'."""
    tc = config.transcripts
    out = np.full(len(genes), np.nan if tc.nuclear_fraction is None else tc.nuclear_fraction)
    if tc.nuclear_fraction_by_gene:
        pos = pd.Index(genes).get_indexer(list(tc.nuclear_fraction_by_gene))
        unknown = [g for g, p in zip(tc.nuclear_fraction_by_gene, pos, strict=True) if p < 0]
        if unknown:
            msg = f"transcripts.nuclear_fraction_by_gene names unknown genes {unknown[:5]}; use feature names."
            raise ValueError(msg)
        out[pos] = list(tc.nuclear_fraction_by_gene.values())
    return out
