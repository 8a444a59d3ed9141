"""Stage 4: every detected molecule, where it is, and the truth behind it.

Each true count becomes a molecule of its source cell. Cells are processed in fixed
blocks of ``config.transcripts.block_size`` rows, background molecules in fixed square
tiles (the FOV grid); each block or tile draws from its own generator keyed by its index
(:func:`~STpuppeteer._random.block_rng`), so splitting the work differently gives the same
molecules. Within a block the draws come in a fixed order — leakage, compartment, position,
leak distance, z, then the instrument (jitter, detection, mis-calls, quality) — so turning an
instrument knob never moves the true molecules.

The columns of the returned ``trs_df`` are documented in ``docs/data_contract.md``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from STpuppeteer._random import block_rng
from STpuppeteer.geometry.locate import CellLocator
from STpuppeteer.geometry.star import StarPolygons
from STpuppeteer.stages.instrument import FovEfficiency, control_names, draw_qv, tile_key

if TYPE_CHECKING:
    from collections.abc import Iterator

    import geopandas as gpd
    from dask.distributed import Client

    from STpuppeteer.config import SimulationConfig

__all__ = [
    "COMPARTMENTS",
    "ORIGINS",
    "CellGeometry",
    "MoleculeLabels",
    "ambient_weights",
    "background_parts",
    "cell_blocks",
    "cell_bounds",
    "classify_leakage",
    "counts_to_transcript_df",
    "generate_transcripts",
    "leak_probability",
    "locate_part",
    "restrict_context",
    "transcript_context",
    "unlocated_background",
]

ORIGINS = ("cell", "leaked", "ambient", "control")
COMPARTMENTS = ("nucleus", "cytoplasm", "extracellular")
NO_CELLTYPE = "none"
_CELL, _LEAKED, _AMBIENT, _CONTROL = range(4)
_NUCLEUS, _CYTOPLASM, _EXTRA = range(3)
_BACKGROUND_STREAM = 1
_MAX_REJECTION_ROUNDS = 1000


# ---------------------------------------------------------------------------------------
# Known entry points
# ---------------------------------------------------------------------------------------
def counts_to_transcript_df(
    count_array: np.ndarray, cell_ids: np.ndarray, gene_names: np.ndarray | list[str]
) -> pd.DataFrame:
    """One row per molecule of a count matrix (no positions): ``cell_id``, ``feature_name``.

    Rows come cell by cell in the order of ``cell_ids``, genes in panel order within a cell.

    Parameters
    ----------
    count_array
        Integer counts, cells × genes.
    cell_ids
        Id of each row's cell.
    gene_names
        Name of each column's gene.

    Returns
    -------
    DataFrame with ``transcript_id``, ``cell_id`` and categorical ``feature_name``.

    Examples
    --------
    >>> counts_to_transcript_df(np.array([[2, 0], [0, 1]]), [10, 11], ["a", "b"])
       transcript_id  cell_id feature_name
    0              0       10            a
    1              1       10            a
    2              2       11            b
    """
    counts = np.asarray(count_array)
    cell_ids = np.asarray(cell_ids)
    gene_names = np.asarray(gene_names, dtype=object)
    if counts.ndim != 2 or counts.shape != (len(cell_ids), len(gene_names)):
        msg = (
            f"count_array has shape {counts.shape}; expected (len(cell_ids), len(gene_names)) = "
            f"({len(cell_ids)}, {len(gene_names)})."
        )
        raise ValueError(msg)
    if counts.size and (counts.min() < 0 or not np.issubdtype(counts.dtype, np.integer)):
        msg = "count_array must hold non-negative integers."
        raise ValueError(msg)
    row, gene = _expand(counts)
    return pd.DataFrame(
        {
            "transcript_id": np.arange(len(row), dtype=np.int64),
            "cell_id": cell_ids[row],
            "feature_name": pd.Categorical.from_codes(gene, categories=pd.Index(gene_names)),
        }
    )


def leak_probability(cell_leakage: np.ndarray, gene_leakage: np.ndarray) -> np.ndarray:
    """Union rule: p = 1 − (1 − p_cell)(1 − p_gene), elementwise.

    Examples
    --------
    >>> float(leak_probability(0.2, 0.5))
    0.6
    """
    return 1.0 - (1.0 - np.asarray(cell_leakage, float)) * (1.0 - np.asarray(gene_leakage, float))


def classify_leakage(
    trs_df: pd.DataFrame, cell_gdf: pd.DataFrame, gpar_df: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Decide for each molecule whether it leaks out of its cell (one Bernoulli each).

    p = 1 − (1 − ``leakage_percentage`` of its cell)(1 − ``gene_leakage`` of its gene);
    molecules with no source cell (``cell_id`` -1) never leak.

    Parameters
    ----------
    trs_df
        Molecules with ``cell_id`` and ``feature_name`` (e.g. from :func:`counts_to_transcript_df`).
    cell_gdf
        Cells with ``cell_id`` and ``leakage_percentage``.
    gpar_df
        Genes with ``feature_name`` and ``gene_leakage``.
    rng
        Generator; one uniform per molecule.

    Returns
    -------
    A copy of ``trs_df`` with a boolean ``leaked`` column.

    Examples
    --------
    >>> trs = counts_to_transcript_df(np.array([[3, 1]]), [0], ["a", "b"])
    >>> cells = pd.DataFrame({"cell_id": [0], "leakage_percentage": [1.0]})
    >>> genes = pd.DataFrame({"feature_name": ["a", "b"], "gene_leakage": [0.0, 0.0]})
    >>> classify_leakage(trs, cells, genes, np.random.default_rng(0))["leaked"].all()
    np.True_
    """
    cell_leak = pd.Series(np.asarray(cell_gdf["leakage_percentage"], float), index=np.asarray(cell_gdf["cell_id"]))
    gene_leak = pd.Series(np.asarray(gpar_df["gene_leakage"], float), index=np.asarray(gpar_df["feature_name"]))
    has_cell = np.asarray(trs_df["cell_id"]) >= 0
    p_cell = cell_leak.reindex(np.asarray(trs_df["cell_id"])).fillna(0.0).to_numpy()
    p_gene = gene_leak.reindex(np.asarray(trs_df["feature_name"], dtype=object)).fillna(0.0).to_numpy()
    p = np.where(has_cell, leak_probability(p_cell, p_gene), 0.0)
    out = trs_df.copy()
    out["leaked"] = rng.random(len(out)) < p
    return out


# ---------------------------------------------------------------------------------------
# Geometry shared by every block
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CellGeometry:
    """Fan structures of the cells and nuclei, the landing locator and per-cell constants."""

    cells: StarPolygons
    nuclei: StarPolygons
    locator: CellLocator
    radius: np.ndarray
    z_lo: np.ndarray
    z_hi: np.ndarray
    bounds: np.ndarray

    @classmethod
    def from_cells(cls, cell_gdf: gpd.GeoDataFrame, *, thickness: float, n_threads: int = 1) -> CellGeometry:
        """Build from ``cell_gdf`` (``geometry``, ``nucleus``, optional ``z``).

        Parameters
        ----------
        cell_gdf
            The cells.
        thickness
            Section thickness, µm (z runs over [0, thickness]).
        n_threads
            With 2 or more, the cells' and the nuclei's fans are built at once (same result).

        Returns
        -------
        The geometry.
        """
        cell_geoms = np.asarray(cell_gdf.geometry.values if hasattr(cell_gdf, "geometry") else cell_gdf["geometry"],
                                dtype=object)
        nuc_geoms = np.asarray(cell_gdf["nucleus"].values, dtype=object)
        if {"nucleus_x", "nucleus_y"} <= set(cell_gdf.columns):
            # The tissue stage's nucleus centre: the point its star-convex nucleus is drawn about.
            centre = np.column_stack([cell_gdf["nucleus_x"].to_numpy(float), cell_gdf["nucleus_y"].to_numpy(float)])
        else:
            centre = shapely.get_coordinates(shapely.centroid(nuc_geoms))
        if len(centre) != len(nuc_geoms):
            msg = "every cell needs a non-empty 'nucleus' polygon (its centre anchors the placement)."
            raise ValueError(msg)
        if n_threads > 1:
            with ThreadPoolExecutor(max_workers=2) as pool:
                cells, nuclei = pool.map(StarPolygons.from_geometries, (cell_geoms, nuc_geoms), (centre, centre))
        else:
            cells = StarPolygons.from_geometries(cell_geoms, centre)
            nuclei = StarPolygons.from_geometries(nuc_geoms, centre)
        z = np.asarray(cell_gdf["z"], dtype=float) if "z" in cell_gdf.columns else None
        return cls.from_fans(cells, nuclei, z=z, thickness=thickness)

    @classmethod
    def from_fans(cls, cells: StarPolygons, nuclei: StarPolygons, *, z: np.ndarray | None,
                  thickness: float) -> CellGeometry:
        """Build from the fans of the cells and nuclei (same rows) and the cells' z (``None``: none)."""
        radius = np.sqrt(cells.area / np.pi)
        if z is not None:
            z_lo, z_hi = np.clip(z - radius, 0.0, thickness), np.clip(z + radius, 0.0, thickness)
            flat = z_hi - z_lo <= 1e-9
            z_lo, z_hi = np.where(flat, 0.0, z_lo), np.where(flat, thickness, z_hi)
        else:
            z_lo, z_hi = np.zeros(len(cells)), np.full(len(cells), thickness)
        b = cells.bounds()
        bounds = np.array([np.nanmin(b[:, 0]), np.nanmin(b[:, 1]), np.nanmax(b[:, 2]), np.nanmax(b[:, 3])])
        return cls(cells, nuclei, CellLocator.build(cells, nuclei), radius, z_lo, z_hi, bounds)


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
        from STpuppeteer._parallel import map_blocks

        items = [(start, stop, block_rng(rng, b)) for b, (start, stop) in enumerate(blocks)]
        parts = list(map_blocks(_cell_block_task, items, shared=ctx, client=client, blocks_per_task=blocks_per_task))
        parts += background_parts(ctx, weights, rng)
    else:
        def run_block(block: int) -> dict[str, np.ndarray]:
            start, stop = blocks[block]
            return _cell_block(ctx, start, stop, block_rng(rng, block))

        n_threads = min(_n_threads(config), max(len(blocks), 1))
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
    return MoleculeLabels.build(cell_gdf, gpar_df, config).frame(parts, n_threads=_n_threads(config))


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
) -> _Context:
    """What every block of stage 4 shares: the cells' geometry, leakage, FOV efficiencies.

    ``counts`` may be omitted when every block is given its own counts (streamed runs);
    without ``geometry`` the fans and landing grid are left out, for blocks that build their
    own with :func:`restrict_context` (bounded memory on large slides), and ``cell_gdf``
    need not hold polygons if the cells' ``bounds`` (``[xmin, ymin, xmax, ymax]``) are given.
    """
    thickness = config.tissue.section_thickness_um
    geo = CellGeometry.from_cells(cell_gdf, thickness=thickness, n_threads=_n_threads(config)) if geometry else None
    if bounds is None:
        bounds = geo.bounds if geo is not None else cell_bounds(cell_gdf)
    genes = np.asarray(gpar_df["feature_name"], dtype=object)
    return _Context(
        config=config,
        geo=geo,
        counts=counts,
        cell_leak=_column(cell_gdf, "leakage_percentage", len(cell_gdf)),
        gene_leak=_column(gpar_df, "gene_leakage", len(gpar_df)),
        nuclear=_nuclear_fraction(config, genes),
        fov=FovEfficiency.build(config.instrument, bounds, rng),
        bounds=bounds,
    )


def cell_bounds(cell_gdf: gpd.GeoDataFrame) -> np.ndarray:
    """``[xmin, ymin, xmax, ymax]`` of the cell polygons (the background molecules' box)."""
    b = shapely.bounds(np.asarray(cell_gdf.geometry.values, dtype=object))
    return np.array([np.nanmin(b[:, 0]), np.nanmin(b[:, 1]), np.nanmax(b[:, 2]), np.nanmax(b[:, 3])])


def restrict_context(ctx: _Context, geo: CellGeometry, rows: np.ndarray) -> _Context:
    """The context of just the cells ``rows``, whose geometry is ``geo`` (rows renumbered 0…len(rows)-1).

    ``geo`` is built for those cells alone (``CellGeometry.from_cells(cell_gdf.iloc[rows])``,
    or :meth:`~STpuppeteer.pipeline.cell_store.CellStore.geometry`). A cell's placement depends only
    on its own polygons, and landing only on the polygons that contain a point, so a block
    whose rows include every cell its molecules can reach gets the same molecules as with
    the whole tissue's geometry.
    """
    return replace(ctx, geo=geo, counts=None, cell_leak=ctx.cell_leak[rows])


def _cell_block_task(ctx: _Context, item: tuple[int, int, np.random.Generator]) -> dict[str, np.ndarray]:
    start, stop, rng = item
    return _cell_block(ctx, start, stop, rng)


@dataclass(frozen=True)
class _Context:
    config: SimulationConfig
    geo: CellGeometry | None
    counts: np.ndarray | None
    cell_leak: np.ndarray
    gene_leak: np.ndarray
    nuclear: np.ndarray
    fov: FovEfficiency
    bounds: np.ndarray


def _code_dtype(n_categories: int) -> type[np.signedinteger]:
    # The smallest dtype pandas stores categorical codes in: codes already in it are not copied.
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(dtype).max:
            return dtype
    return np.int64


def _n_threads(config: SimulationConfig) -> int:
    from STpuppeteer._parallel import local_threads

    return local_threads(config)


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


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every unit of a count matrix, row-major."""
    flat = counts.ravel()
    nz = np.flatnonzero(flat)
    reps = flat[nz]
    n_genes = counts.shape[1]
    row = np.repeat((nz // n_genes).astype(np.int32), reps)
    gene = np.repeat((nz % n_genes).astype(np.int32), reps)
    return row, gene


def _truncated_exponential(scale: np.ndarray, cut: float, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of an exponential of ``scale`` truncated at ``cut`` × scale."""
    return -scale * np.log1p(-u * -np.expm1(-cut))


def _cell_block(
    ctx: _Context, start: int, stop: int, rng: np.random.Generator, counts: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Molecules of cells ``start:stop`` (rows), drawn from the block's generator.

    ``counts`` are the block's own rows of the count matrix (default: ``ctx.counts[start:stop]``).
    """
    geo, cfg = ctx.geo, ctx.config
    row, gene = _expand(ctx.counts[start:stop] if counts is None else counts)
    row += np.int32(start)
    n = len(row)
    # 1. Leakage (union rule), then compartment of those that stay.
    if ctx.cell_leak.any() or ctx.gene_leak.any():
        leaked = rng.random(n) < leak_probability(ctx.cell_leak[row], ctx.gene_leak[gene])
    else:
        leaked = np.zeros(n, dtype=bool)
    stay = np.flatnonzero(~leaked)
    go = np.flatnonzero(leaked)
    x = np.empty(n)
    y = np.empty(n)
    in_nuc = np.zeros(len(stay), dtype=bool)
    # 2a. Uniform in the cell (the default): one point in the cell's fan, its compartment by
    # the analytic nucleus test: exactly "nucleus with probability of its area share".
    frac = ctx.nuclear[gene[stay]]
    uniform = np.isnan(frac)
    if uniform.any():
        idx = stay[uniform] if not uniform.all() else stay
        x[idx], y[idx] = geo.cells.sample(row[idx], rng)
        in_nuc[uniform] = geo.nuclei.contains(row[idx], x[idx], y[idx])
    # 2b. A set nuclear fraction: the compartment first, then uniform within it (cytoplasm by
    # rejection of cell points that fall in the nucleus).
    chosen = np.flatnonzero(~uniform)
    if len(chosen):
        r = row[stay[chosen]]
        cell_area = geo.cells.area[r]
        no_cytoplasm = cell_area - np.minimum(geo.nuclei.area[r], cell_area) <= 1e-9 * cell_area
        in_nuc[chosen] = (rng.random(len(chosen)) < frac[chosen]) | no_cytoplasm
        nuc_idx = stay[chosen[in_nuc[chosen]]]
        x[nuc_idx], y[nuc_idx] = geo.nuclei.sample(row[nuc_idx], rng)
        todo = stay[chosen[~in_nuc[chosen]]]
        for _ in range(_MAX_REJECTION_ROUNDS):
            if len(todo) == 0:
                break
            px, py = geo.cells.sample(row[todo], rng)
            x[todo], y[todo] = px, py
            todo = todo[geo.nuclei.contains(row[todo], px, py)]
        else:
            msg = "could not place cytoplasmic molecules: a cell's nucleus covers (almost) all of it."
            raise RuntimeError(msg)
    # 3. Leaked molecules: out through the boundary, truncated-exponential distance along the ray.
    bx, by, ux, uy = geo.cells.exit_points(row[go], rng)
    scale = cfg.leak_dist_factor * geo.radius[row[go]]
    dist = np.maximum(_truncated_exponential(scale, cfg.transcripts.leak_max_factor, rng.random(len(go))), 1e-6)
    x[go], y[go] = bx + dist * ux, by + dist * uy
    z_lo = geo.z_lo[row]
    z = (z_lo + rng.random(n) * (geo.z_hi[row] - z_lo)).astype(np.float32)
    # Truth of where each molecule is (before the instrument's localisation error).
    landed = row.copy()
    compartment = np.where(in_nuc, _NUCLEUS, _CYTOPLASM).astype(np.int8)
    comp_all = np.empty(n, dtype=np.int8)
    comp_all[stay] = compartment
    landed_go, nuc_go = geo.locator.locate(x[go], y[go])
    landed[go] = landed_go
    comp_all[go] = np.where(landed_go < 0, _EXTRA, np.where(nuc_go, _NUCLEUS, _CYTOPLASM))
    origin = np.where(leaked, _LEAKED, _CELL).astype(np.int8)
    part = {"row": row, "gene": gene, "true_gene": gene, "x": x, "y": y, "z": z, "origin": origin,
            "landed": landed, "compartment": comp_all}
    return _instrument(part, ctx, rng)


def _instrument(part: dict[str, np.ndarray], ctx: _Context, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Detection, mis-calls, quality scores and localisation jitter of one block of true molecules.

    Jitter is drawn last, so switching it on or off leaves the detected and mis-called
    molecules as they were: runs that differ only in jitter compare like for like. Detection
    depends on the true position (where the molecule is), not on where it is recorded.
    """
    inst = ctx.config.instrument
    n = len(part["row"])
    if not ctx.fov.perfect:
        keep = np.flatnonzero(rng.random(n) < ctx.fov.at(part["x"], part["y"]))
        # One index for every column, and a column shared by two keys (gene, true_gene) taken once.
        taken: dict[int, np.ndarray] = {}
        for v in part.values():
            if id(v) not in taken:
                taken[id(v)] = v.take(keep)
        part = {k: taken[id(v)] for k, v in part.items()}
        n = len(keep)
    miscalled = np.zeros(n, dtype=bool)
    n_genes = len(ctx.nuclear)
    if inst.miscall_rate > 0 and n_genes > 1:
        miscalled = rng.random(n) < inst.miscall_rate
        shift = rng.integers(1, n_genes, size=int(miscalled.sum()))
        gene = part["gene"].copy()
        gene[miscalled] = (gene[miscalled] + shift) % n_genes
        part["gene"] = gene
    part["qv"] = draw_qv(miscalled, rng, config=inst)
    if inst.jitter_um > 0:
        jit = rng.standard_normal((3, n), dtype=np.float32)
        jit *= np.float32(inst.jitter_um)
        part["x"] = part["x"] + jit[0]
        part["y"] = part["y"] + jit[1]
        part["z"] = part["z"] + jit[2]
    return part


def ambient_weights(gene_totals: np.ndarray, config: SimulationConfig) -> np.ndarray:
    """Probability of each gene for an ambient molecule, from the genes' total true counts."""
    total = np.asarray(gene_totals, dtype=np.float64)
    if config.instrument.ambient_genes == "uniform" or total.sum() <= 0:
        return np.full(len(total), 1.0 / len(total))
    return total / total.sum()


def background_parts(ctx: _Context, weights: np.ndarray, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Ambient molecules and controls, uniform over the cells' bounding box, tile by tile."""
    return [locate_part(part, ctx.geo.locator) for part in unlocated_background(ctx, weights, rng)]


def locate_part(part: dict[str, np.ndarray], locator: CellLocator) -> dict[str, np.ndarray]:
    """Add the landed cell (row of the locator's cells) and compartment of background molecules."""
    landed, in_nuc = locator.locate(part["x"], part["y"])
    return {**part, "landed": landed.astype(np.int32),
            "compartment": np.where(landed < 0, _EXTRA, np.where(in_nuc, _NUCLEUS, _CYTOPLASM)).astype(np.int8)}


def unlocated_background(
    ctx: _Context, weights: np.ndarray, rng: np.random.Generator, *, max_molecules: int | None = None
) -> Iterator[dict[str, np.ndarray]]:
    """Background molecules without their landed cell (see :func:`locate_part`), in parts.

    Each FOV tile draws from its own keyed generator; the parts are runs of consecutive
    tiles holding about ``max_molecules`` molecules (``None``: one part), drawn only when
    the next part is asked for, so a whole slide's background is never in memory at once.
    Joined, the parts are the same molecules however they are cut.
    """
    inst = ctx.config.instrument
    rates = np.array([inst.ambient_rate_per_um2, inst.neg_control_probe_rate_per_um2,
                      inst.neg_control_codeword_rate_per_um2, inst.unassigned_codeword_rate_per_um2])
    if not np.any(rates > 0):
        return
    cum_w = np.cumsum(weights)
    b, size = ctx.bounds, inst.fov_size_um
    draws: list[tuple[np.ndarray, ...]] = []
    n_pending = 0
    for i in range(int(np.floor(b[0] / size)), int(np.floor(b[2] / size)) + 1):
        for j in range(int(np.floor(b[1] / size)), int(np.floor(b[3] / size)) + 1):
            x0, x1 = max(b[0], i * size), min(b[2], (i + 1) * size)
            y0, y1 = max(b[1], j * size), min(b[3], (j + 1) * size)
            area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
            if area <= 0:
                continue
            # Per tile only the keyed draws; the arithmetic runs once over a part's tiles.
            trng = block_rng(rng, tile_key(_BACKGROUND_STREAM, i, j))
            k = trng.poisson(rates * area)
            n = int(k.sum())
            u = trng.random((4, n))
            qv = draw_qv(np.ones(n, dtype=bool), trng, config=inst)
            draws.append((np.repeat(np.arange(4, dtype=np.int8), k), u, np.array([x0, x1, y0, y1]), qv))
            n_pending += n
            if max_molecules is not None and n_pending >= max_molecules:
                yield _background_part(ctx, draws, cum_w)
                draws, n_pending = [], 0
    if draws and (n_pending or max_molecules is None):
        yield _background_part(ctx, draws, cum_w)


def _background_part(ctx: _Context, draws: list[tuple[np.ndarray, ...]], cum_w: np.ndarray) -> dict[str, np.ndarray]:
    """The molecules of some tiles' draws (kind, uniforms, tile box, qv)."""
    n_genes = len(ctx.nuclear)
    names = control_names(ctx.config.instrument)
    offsets = np.cumsum([n_genes] + [len(k) for k in names])[:-1]
    sizes = [len(k) for k in names]
    kind = np.concatenate([d[0] for d in draws])
    u = np.concatenate([d[1] for d in draws], axis=1)
    box = np.repeat(np.stack([d[2] for d in draws]), [len(d[0]) for d in draws], axis=0)
    qv = np.concatenate([d[3] for d in draws])
    n = len(kind)
    gene = np.empty(n, dtype=np.int32)
    amb = kind == 0
    gene[amb] = np.minimum(np.searchsorted(cum_w, u[3, amb] * cum_w[-1], side="right"), n_genes - 1)
    for c in range(3):
        sel = kind == c + 1
        gene[sel] = offsets[c] + np.minimum((u[3, sel] * sizes[c]).astype(np.intp), sizes[c] - 1)
    x = box[:, 0] + u[0] * (box[:, 1] - box[:, 0])
    y = box[:, 2] + u[1] * (box[:, 3] - box[:, 2])
    return {
        "row": np.full(n, -1, dtype=np.int32), "gene": gene, "true_gene": gene, "x": x, "y": y,
        "z": (u[2] * ctx.config.tissue.section_thickness_um).astype(np.float32),
        "origin": np.where(amb, _AMBIENT, _CONTROL).astype(np.int8),
        "qv": qv,
    }


@dataclass(frozen=True)
class MoleculeLabels:
    """What turns blocks of molecules (integer codes) into ``trs_df`` rows: ids and category names."""

    cell_ids: np.ndarray | None
    ct_code: np.ndarray
    ct_names: list[str]
    features: pd.Index

    @classmethod
    def build(cls, cell_gdf: pd.DataFrame, gpar_df: pd.DataFrame, config: SimulationConfig) -> MoleculeLabels:
        """From the cells (``cell_id``, ``celltype``), the genes and the config's control names."""
        genes = np.asarray(gpar_df["feature_name"], dtype=object)
        features = pd.Index(list(genes) + [name for kind in control_names(config.instrument) for name in kind])
        cell_ids = np.asarray(cell_gdf["cell_id"])
        # Rows are positions in cell_gdf; report the cells' own ids when they differ.
        ids = None if np.array_equal(cell_ids, np.arange(len(cell_ids))) else np.append(cell_ids, -1).astype(np.int64)
        ct_values = np.asarray(cell_gdf["celltype"], dtype=str)
        ct_names = list(dict.fromkeys(config.celltype_names + sorted(set(ct_values))))
        ct_code = np.append(pd.Index(ct_names).get_indexer(ct_values), len(ct_names))
        ct_code = ct_code.astype(_code_dtype(len(ct_names) + 1))
        return cls(cell_ids=ids, ct_code=ct_code, ct_names=ct_names, features=features)

    def frame(self, parts: list[dict[str, np.ndarray]], *, first_id: int = 0, n_threads: int = 1) -> pd.DataFrame:
        """``trs_df`` rows of these blocks, ``transcript_id`` counting from ``first_id``.

        ``n_threads`` threads join the blocks' columns (the same frame whatever their number).
        """
        keys = ("row", "gene", "true_gene", "x", "y", "z", "origin", "landed", "compartment", "qv")
        # Gene codes joined straight into the dtype pandas keeps for the categorical's codes.
        gene_dtype = _code_dtype(len(self.features))
        dtypes = {"row": np.int32, "gene": gene_dtype, "true_gene": gene_dtype, "x": np.float64, "y": np.float64,
                  "z": np.float32, "origin": np.int8, "landed": np.int32, "compartment": np.int8, "qv": np.float32}

        def join(k: str) -> np.ndarray:
            if not parts:
                return np.zeros(0, dtype=dtypes[k])
            return np.concatenate([p[k] for p in parts], dtype=dtypes[k], casting="same_kind")

        if n_threads > 1 and parts:
            # Joining is mostly first touches of fresh memory, which threads overlap.
            with ThreadPoolExecutor(max_workers=n_threads) as pool:
                cols = dict(zip(keys, pool.map(join, keys), strict=True))
        else:
            cols = {k: join(k) for k in keys}
        n = len(cols["row"])
        row, landed = cols["row"], cols["landed"]
        if self.cell_ids is not None:
            row, landed = self.cell_ids[row], self.cell_ids[landed]
        comp = cols["compartment"]
        features = self.features
        columns = {
            "transcript_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "x": cols["x"],
            "y": cols["y"],
            "z": cols["z"],
            "feature_name": pd.Categorical.from_codes(cols["gene"], categories=features, validate=False),
            "cell_id": row,
            "celltype": pd.Categorical.from_codes(self.ct_code[cols["row"]],
                                                  categories=[*self.ct_names, NO_CELLTYPE], validate=False),
            "origin": pd.Categorical.from_codes(cols["origin"], categories=list(ORIGINS), validate=False),
            "landed_cell_id": landed,
            "compartment": pd.Categorical.from_codes(comp, categories=list(COMPARTMENTS), validate=False),
            "overlaps_nucleus": comp == _NUCLEUS,
            "qv": cols["qv"],
            "true_feature_name": pd.Categorical.from_codes(cols["true_gene"], categories=features, validate=False),
        }
        # copy=False: the columns are fresh arrays; consolidating them would copy gigabytes.
        return pd.DataFrame(columns, copy=False)
