"""Stage 2: the tissue — cell positions, cell types in space, nuclei and cell polygons.

:func:`generate_cells` chains the sub-steps, each with its own random stream keyed by a
fixed name (so changing one sub-step never shifts another's draws):

1. the tissue polygon and blue-noise centres (:mod:`.positions`);
2. cell types (:mod:`.spatial_pattern`);
3. nuclei (:mod:`.morphology`), shrunk where needed so each fits inside the disc of half
   the distance to its nearest neighbour (always inside its Voronoi cell) and the tissue;
4. cells. The confluent model (default): each cell gets a target area, elongation and direction
   (:mod:`.cell_sizes`), the centres are moved so each neighbourhood has the room its cells need
   (:mod:`.cell_room`) and packed as hard ellipses (:mod:`.packing`), and a cell is the power
   (Laguerre) cell of its centre (:mod:`STpuppeteer.geometry.power`) ∩ the tissue. The expanded
   model: Voronoi cell of the centre ∩ nucleus expanded radially by ``max_expansion_um`` ∩ the
   tissue. Either way each nucleus lies in its own cell, cells never overlap, and a cell is
   star-shaped about its nucleus centre unless the tissue's outline cuts it.
5. confluent model: nuclei of elongated cells move along their cell's long axis towards a random
   end (:mod:`.nucleus_offset`), staying inside their cell.

The tissue may have gaps (:mod:`.gaps`): holes in the region that no cell covers.

Nuclei and cells are built tile by tile (fixed square tiles of ``TILE_UM``; bounded memory),
each tile's nucleus draws from a generator keyed by the tile's (row, column), and cells are
numbered tile by tile (rows of tiles from y = 0, left to right).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from STpuppeteer._parallel import local_threads, thread_map
from STpuppeteer._random import Block, block_rng
from STpuppeteer.config.tissue import check_tissue_consistency, hardcore_distance_um
from STpuppeteer.geometry.power import power_cells, power_gaps
from STpuppeteer.stages.architecture import tissue_with_lumens
from STpuppeteer.stages.cell_room import make_room
from STpuppeteer.stages.cell_sizes import cell_targets
from STpuppeteer.stages.gaps import carve_gaps
from STpuppeteer.stages.morphology import draw_nucleus_radii, fit_radii, star_polygons
from STpuppeteer.stages.nucleus_offset import nucleus_shifts
from STpuppeteer.stages.packing import equivalent_radius, pack_ellipses
from STpuppeteer.stages.positions import sample_centres, tissue_region
from STpuppeteer.stages.size_factors import size_factor_cv, size_factors, sizing_area
from STpuppeteer.stages.spatial_pattern import assign_celltypes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from STpuppeteer.config import SimulationConfig

__all__ = [
    "CELL_COLUMNS",
    "TileCells",
    "TissueLayout",
    "build_cell_polygons",
    "build_power_cells",
    "build_tile_cells",
    "build_tiles",
    "cell_frame",
    "generate_cells",
    "tissue_layout",
]

#: Columns of ``cell_gdf`` in order (``geometry`` is the cell polygon, ``nucleus`` a second
#: geometry column; ``nucleus_x``/``nucleus_y`` the nucleus centre: the point the star-shaped
#: nucleus is drawn about, the cell's site except where ``morphology.nucleus_offset`` moved it).
CELL_COLUMNS = (
    "cell_id",
    "celltype",
    "x",
    "y",
    "z",
    "nucleus_x",
    "nucleus_y",
    "nucleus_area",
    "cell_area",
    "scale",
    "leakage_percentage",
    "geometry",
    "nucleus",
)

# Fixed keys of the sub-streams of the "cells" stage generator.
#: Side of the fixed square tiles (µm) in which nuclei and cells are built; the nucleus
#: draws of a tile are keyed by its (row, column), so they do not depend on other tiles.
TILE_UM = 1000.0
# Nuclei stay this fraction inside the disc that is guaranteed to be in their Voronoi cell.
_FIT_SAFETY = 0.98
# Power weights are this multiple of the packed discs' squared radii (more than the radical
# tessellation's 1: measured to bring a domain's mean cell area to its target, docs/model_tissue.md).
_WEIGHT_GAIN = 2.0
# A weight may exceed a neighbour's by at most this fraction of their squared distance, which keeps
# each centre at least a quarter of the way to its neighbour inside its own cell.
_WEIGHT_STEP = 0.5
_WEIGHT_SWEEPS = 200
# Pairs whose power bisector is computed exactly, in multiples of the typical spacing; farther ones
# are bounded (see _power_weights).
_PAIR_RANGE = 2.2
# A confluent cell reaches at most this multiple of its long semi-axis from its centre (it binds only
# where a cell borders a gap or the tissue's edge); it bounds the halo of the tiles.
_CAP_FACTOR = 2.5


def _boundary_distance(region: shapely.Polygon, xy: np.ndarray) -> np.ndarray:
    if shapely.equals(region, shapely.envelope(region)):
        x0, y0, x1, y1 = region.bounds
        return np.minimum.reduce([xy[:, 0] - x0, x1 - xy[:, 0], xy[:, 1] - y0, y1 - xy[:, 1]])
    return shapely.distance(region.boundary, shapely.points(xy))


def _largest_part_at(cells: np.ndarray, centres: np.ndarray) -> np.ndarray:
    # Clipping to a non-convex tissue can split a cell (or leave slivers): keep the piece
    # holding the cell's centre. Only a handful of border cells ever get here.
    out = cells.copy()
    for i in np.flatnonzero(shapely.get_type_id(cells) != shapely.GeometryType.POLYGON):
        parts = shapely.get_parts(cells[i])
        parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
        hit = shapely.contains_xy(parts, *centres[i])
        out[i] = parts[np.argmax(hit)] if hit.any() else parts[np.argmax(shapely.area(parts))]
    return out


def _tile_order(xy: np.ndarray, tile_um: float) -> np.ndarray:
    row = np.floor(xy[:, 1] / tile_um).astype(np.int64)
    col = np.floor(xy[:, 0] / tile_um).astype(np.int64)
    return np.lexsort((np.arange(len(xy)), col, row))


def _tiles(xy: np.ndarray, tile_um: float, halo_um: float) -> Iterator[tuple[tuple[int, int], slice, np.ndarray]]:
    # xy must be in _tile_order. Yields each non-empty tile's (row, col), the slice of its own
    # cells and the indices of the other cells within halo_um of the tile.
    row = np.floor(xy[:, 1] / tile_um).astype(np.int64)
    col = np.floor(xy[:, 0] / tile_um).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, (np.diff(row) != 0) | (np.diff(col) != 0)])
    stops = np.r_[starts[1:], len(xy)]
    where = {(int(row[a]), int(col[a])): slice(int(a), int(b)) for a, b in zip(starts, stops, strict=True)}
    reach = int(np.ceil(halo_um / tile_um))
    for (r, c), own in where.items():
        others = [
            np.arange(where[(r + dr, c + dc)].start, where[(r + dr, c + dc)].stop)
            for dr in range(-reach, reach + 1)
            for dc in range(-reach, reach + 1)
            if (dr or dc) and (r + dr, c + dc) in where
        ]
        near = np.concatenate(others) if others else np.empty(0, dtype=np.int64)
        x0, y0 = c * tile_um - halo_um, r * tile_um - halo_um
        x1, y1 = (c + 1) * tile_um + halo_um, (r + 1) * tile_um + halo_um
        px, py = xy[near, 0], xy[near, 1]
        yield (r, c), own, near[(px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)]


def _voronoi_of_tile(xy: np.ndarray, own: slice, near: np.ndarray, region: shapely.Polygon) -> np.ndarray:
    # Exact for the tile's own cells once they are cut to their reach: a centre q can only cut
    # the part of p's cell within R of p if |p - q| < 2R, and R (nucleus radius + expansion)
    # is at most half the halo, so every such q is in `near`.
    sites = np.concatenate([xy[own], xy[near]])
    diagram = shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=region, ordered=True)
    return shapely.get_parts(diagram)[: own.stop - own.start]


def build_cell_polygons(
    centres: np.ndarray,
    radii: np.ndarray,
    voronoi: np.ndarray,
    region: shapely.Polygon,
    *,
    max_expansion_um: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Nucleus and cell polygons of a block of cells.

    Parameters
    ----------
    centres
        ``(n, 2)`` nucleus centres (the Voronoi sites), µm.
    radii
        ``(n, n_vertices)`` nucleus radii, already fitted inside the Voronoi cells.
    voronoi
        ``(n,)`` Voronoi polygons of the centres.
    region
        The tissue polygon (prepared for speed).
    max_expansion_um
        Largest distance of a cell's boundary from its nucleus.

    Returns
    -------
    ``(nuclei, cells)``, two ``(n,)`` arrays of valid polygons.
    """
    nuclei = star_polygons(centres, radii)
    # Radial expansion: every point lies within max_expansion_um of the nucleus (a subset
    # of the true buffer, equal to it for a circle) and it keeps the vertex count low.
    reach = star_polygons(centres, radii + max_expansion_um)
    cells = shapely.intersection(voronoi, reach)
    return nuclei, _clip_to_region(cells, centres, region)


def _clip_to_region(cells: np.ndarray, centres: np.ndarray, region: shapely.Polygon) -> np.ndarray:
    x0, y0, x1, y1 = shapely.bounds(cells).T
    if shapely.equals(region, shapely.envelope(region)):
        rx0, ry0, rx1, ry1 = region.bounds
        outside = (x0 < rx0) | (y0 < ry0) | (x1 > rx1) | (y1 > ry1)
    else:
        outside = ~shapely.contains(region, cells)
    if outside.any():
        cells[outside] = shapely.intersection(cells[outside], region)
        cells[outside] = _largest_part_at(cells[outside], centres[outside])
    return cells


def build_power_cells(
    centres: np.ndarray,
    weights: np.ndarray,
    n_own: int,
    region: shapely.Polygon,
    *,
    cap: np.ndarray,
) -> np.ndarray:
    """Confluent cells of the first ``n_own`` centres: power cell ∩ disc of ``cap`` ∩ the tissue.

    Parameters
    ----------
    centres
        ``(n, 2)`` centres: the block's own first, then every centre that can cut them.
    weights
        ``(n,)`` their power weights, µm².
    n_own
        How many leading centres get a cell.
    region
        The tissue polygon (prepared for speed).
    cap
        ``(n_own,)`` largest reach of each cell from its centre, µm.

    Returns
    -------
    ``(n_own,)`` valid polygons.
    """
    cells, reach = power_cells(centres, weights, n_own)
    over = reach > cap
    if over.any():
        n_vertices = 32
        disc = star_polygons(centres[:n_own][over], np.repeat(cap[over, None], n_vertices, axis=1))
        cells[over] = shapely.intersection(cells[over], disc)
    return _clip_to_region(cells, centres[:n_own], region)


def generate_cells(config: SimulationConfig, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Stage 2: the tissue's cells with types, nuclei and boundaries.

    Parameters
    ----------
    config
        The simulation config (``n_cells``, ``n_celltype``, ``tissue``, ``morphology``,
        ``leakage_by_celltype``).
    rng
        The stage's generator (:func:`STpuppeteer._random.stage_rng` of ``"cells"``); its
        sub-streams are derived with :func:`STpuppeteer._random.block_rng`.

    Returns
    -------
    ``cell_gdf``: one row per cell with the columns of :data:`CELL_COLUMNS`; the active
    geometry is the cell polygon, ``nucleus`` holds the nucleus polygon. Coordinates are
    in µm with the tissue's bounding box starting at (0, 0).

    Examples
    --------
    >>> from STpuppeteer.config import SimulationConfig
    >>> cell_gdf = generate_cells(SimulationConfig(n_cells=300), np.random.default_rng(0))
    >>> len(cell_gdf), cell_gdf.celltype.value_counts().tolist()
    (300, [100, 100, 100])
    """
    layout = tissue_layout(config, rng)
    n = layout.n_cells
    nuclei = np.empty(n, dtype=object)
    cells = np.empty(n, dtype=object)
    nucleus_centre = np.empty((n, 2))
    for tile in build_tile_cells(layout, config):
        nuclei[tile.rows], cells[tile.rows], nucleus_centre[tile.rows] = tile.nuclei, tile.cells, tile.nucleus_centre
    frame = cell_frame(layout, config, nucleus_area=shapely.area(nuclei), cell_area=shapely.area(cells),
                       centroid=shapely.get_coordinates(shapely.centroid(cells)), nucleus_centre=nucleus_centre)
    cell_gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(cells, index=frame.index))
    cell_gdf["nucleus"] = gpd.GeoSeries(nuclei, index=frame.index)
    return cell_gdf[list(CELL_COLUMNS)]


@dataclass(frozen=True)
class TissueLayout:
    """What the tissue stage decides for the whole tissue before any polygon is built.

    Centres (hard-core point process) and cell types are global (see ``docs/scale.md``);
    they cost a few dozen bytes a cell. Polygons are then built tile by tile from it
    (:func:`build_tiles`), so a caller may keep them in any form it likes.

    Attributes
    ----------
    region
        The tissue polygon.
    centres
        ``(n, 2)`` nucleus centres, in cell order (tile by tile).
    codes
        Cell-type code of each cell.
    limit
        Radius each nucleus must fit in (inside its Voronoi cell and the tissue).
    halo
        Width of the halo of other tiles' centres each tile's Voronoi cells need.
    rng
        The stage's generator (its keyed sub-streams draw the nuclei and z).
    weights
        Confluent model: power weights of the centres (µm²); ``None`` in the expanded model.
    cap
        Confluent model: the largest reach of each cell from its centre, µm.
    nucleus_angle
        Angle of each nucleus' long axis (radians), NaN where it is random (round cell types).
    target_area
        Confluent model: the area each cell was drawn to have (µm², :mod:`.cell_sizes`), before
        the tissue's outline cuts the cells at its edge.
    """

    region: shapely.Polygon
    centres: np.ndarray
    codes: np.ndarray
    limit: np.ndarray
    halo: float
    rng: np.random.Generator
    weights: np.ndarray | None = None
    cap: np.ndarray | None = None
    nucleus_angle: np.ndarray | None = None
    target_area: np.ndarray | None = None

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return len(self.centres)


def tissue_layout(config: SimulationConfig, rng: np.random.Generator) -> TissueLayout:
    """Centres, cell types and nucleus size limits of the whole tissue, cells in tile order.

    Parameters
    ----------
    config
        The simulation config.
    rng
        The stage's generator.

    Returns
    -------
    The layout.
    """
    names = config.celltype_names
    n = config.n_cells
    tissue, morphology = config.tissue, config.morphology
    proportions = config.celltype_proportions
    check_tissue_consistency(tissue, morphology, n_cells=n, celltype_names=names, proportions=proportions)

    outline = tissue_region(tissue, n)
    # An architecture of glands with no gaps configured cuts its own lumens.
    gapped = tissue_with_lumens(tissue, celltype_names=names, proportions=proportions)
    region = carve_gaps(outline, gapped, block_rng(rng, Block.GAPS))
    # Gaps hold no cells: the centres crowd into what is left, and so does their hard-core distance.
    min_distance = hardcore_distance_um(tissue, n) * (region.area / outline.area) ** 0.5
    centres = sample_centres(
        region, n, block_rng(rng, Block.POSITIONS), min_distance_um=min_distance, margin_um=0.5 * min_distance
    )
    codes = assign_celltypes(centres, region, tissue, block_rng(rng, Block.CELLTYPES), celltype_names=names,
                             proportions=proportions, gaps=None if region is outline else outline.difference(region))
    if morphology.cell_model == "confluent" and n > 1:
        return _confluent_layout(config, region, centres, codes, rng)

    # Half the nearest-neighbour distance bounds a disc inside the Voronoi cell.
    if n > 1:
        nearest = cKDTree(centres).query(centres, k=2)[0][:, 1]
    else:
        nearest = np.full(n, np.inf)
    limit = _FIT_SAFETY * np.minimum(0.5 * nearest, _boundary_distance(region, centres))

    # Cells are numbered tile by tile; each tile's Voronoi cells come from its own centres plus
    # a halo wide enough that no centre outside it can cut a cell (see _voronoi_of_tile).
    order = _tile_order(centres, TILE_UM)
    centres, codes, limit = centres[order], codes[order], limit[order]
    halo = 2.0 * (float(limit.max(initial=0.0)) + morphology.max_expansion_um) * 1.01 + 1e-6
    return TissueLayout(region=region, centres=centres, codes=codes, limit=limit, halo=halo, rng=rng)


def _power_weights(centres: np.ndarray, radius: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    # Weights gain × r², lowered where one would exceed a neighbour's by more than _WEIGHT_STEP × d²;
    # then every centre lies inside its own power cell, at a distance (the returned bound) from
    # every bisector. Pairs beyond the range are bounded through the largest weight difference.
    weights = _WEIGHT_GAIN * radius**2
    pair_range = _PAIR_RANGE * spacing
    pairs = cKDTree(centres).query_pairs(pair_range, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    d2 = np.sum((centres[i] - centres[j]) ** 2, axis=1)
    for _ in range(_WEIGHT_SWEEPS):
        i_big = weights[i] >= weights[j]
        big, small = np.where(i_big, i, j), np.where(i_big, j, i)
        allowed = weights[small] + _WEIGHT_STEP * d2
        too_big = weights[big] > allowed
        if not too_big.any():
            break
        ceiling = np.full(len(weights), np.inf)
        np.minimum.at(ceiling, big[too_big], allowed[too_big])
        weights = np.minimum(weights, ceiling)
    else:
        # Lowering one weight can push a smaller neighbour over its step in turn: if the cascade has
        # not settled, equal weights (a Voronoi diagram) are always valid.
        weights = np.zeros_like(weights)
    weights -= weights.min()
    # Far pairs (d ≥ range): the bisector is at least (range² − Δw) / (2 range) away.
    spread = float(weights.max())
    if spread > 0.8 * pair_range**2:
        weights *= 0.8 * pair_range**2 / spread
        spread = float(weights.max())
    gap = np.full(len(weights), (pair_range**2 - spread) / (2.0 * pair_range))
    np.minimum.at(gap, i, power_gaps(centres[i], centres[j], weights[i], weights[j]))
    np.minimum.at(gap, j, power_gaps(centres[j], centres[i], weights[j], weights[i]))
    return weights, gap


def _confluent_layout(
    config: SimulationConfig,
    region: shapely.Polygon,
    centres: np.ndarray,
    codes: np.ndarray,
    rng: np.random.Generator,
) -> TissueLayout:
    tissue, morphology = config.tissue, config.morphology
    targets = cell_targets(codes, centres, region, morphology, celltype_names=config.celltype_names,
                           area_rng=block_rng(rng, Block.CELL_AREAS), orientation_rng=block_rng(rng, Block.ORIENTATION))
    spacing = math.sqrt(region.area / len(centres))
    # Centres keep off the tissue's edge (room for their nuclei), as the blue-noise sampler does.
    inner = shapely.buffer(region, -0.5 * hardcore_distance_um(tissue, len(centres)))
    if not isinstance(inner, shapely.Polygon) or inner.area < 0.5 * region.area:
        inner = region
    centres = make_room(centres, targets.area, inner)
    radius = equivalent_radius(targets.area, tissue.min_distance_ratio)
    centres = pack_ellipses(centres, inner, radius=radius, aspect=targets.aspect, theta=targets.theta)
    weights, gap = _power_weights(centres, radius, spacing)
    limit = _FIT_SAFETY * np.minimum(gap, _boundary_distance(region, centres))
    semi_major = np.sqrt(targets.area / math.pi * targets.aspect)
    cap = np.maximum(_CAP_FACTOR * semi_major, limit)
    angle = np.where(targets.aspect > 1.0, targets.theta, np.nan)

    order = _tile_order(centres, TILE_UM)
    centres, codes, limit, weights, cap, angle, target_area = (
        a[order] for a in (centres, codes, limit, weights, cap, angle, targets.area)
    )
    # A centre at distance d cuts a cell within reach R of its centre only if (d² − Δw) / (2d) < R.
    reach, spread = float(cap.max()), float(np.ptp(weights))
    halo = (reach + math.sqrt(reach * reach + spread)) * 1.01 + 1e-6
    return TissueLayout(region=region, centres=centres, codes=codes, limit=limit, halo=halo, rng=rng,
                        weights=weights, cap=cap, nucleus_angle=angle, target_area=target_area)


@dataclass(frozen=True)
class TileCells:
    """The polygons of one tile's cells.

    Attributes
    ----------
    rows
        The tile's rows (cells are numbered tile by tile).
    nuclei
        Nucleus polygons.
    cells
        Cell polygons.
    nucleus_centre
        ``(n, 2)`` the point each nucleus is drawn about (star-shaped around it), µm.
    """

    rows: slice
    nuclei: np.ndarray
    cells: np.ndarray
    nucleus_centre: np.ndarray


def build_tiles(layout: TissueLayout, config: SimulationConfig) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """Nuclei and cells of the tissue, tile by tile in cell order (:func:`build_tile_cells` without the centres).

    Parameters
    ----------
    layout
        From :func:`tissue_layout`.
    config
        The simulation config.

    Yields
    ------
    The tile's rows, its nucleus polygons and its cell polygons.
    """
    for tile in build_tile_cells(layout, config):
        yield tile.rows, tile.nuclei, tile.cells


def build_tile_cells(layout: TissueLayout, config: SimulationConfig) -> Iterator[TileCells]:
    """Nuclei and cells of the tissue, tile by tile in cell order.

    Tiles are independent (each draws its nuclei from its own key), so they are built on
    :func:`~STpuppeteer._parallel.local_threads` threads (shapely's set operations
    release the GIL), at most a few tiles ahead of the caller.

    Parameters
    ----------
    layout
        From :func:`tissue_layout`.
    config
        The simulation config.

    Yields
    ------
    Each tile's rows, polygons and nucleus centres.
    """
    names = config.celltype_names
    morphology = config.morphology
    centres, codes, limit, region = layout.centres, layout.codes, layout.limit, layout.region
    nuclei_rng = block_rng(layout.rng, Block.NUCLEI)
    offset_rng = block_rng(layout.rng, Block.NUCLEUS_OFFSET)
    # A prepared geometry caches an index on first use and must not be shared by threads:
    # each thread prepares its own copy of the region.
    per_thread = threading.local()

    def own_region() -> shapely.Polygon:
        if not hasattr(per_thread, "region"):
            per_thread.region = shapely.from_wkb(shapely.to_wkb(region))
            shapely.prepare(per_thread.region)
        return per_thread.region

    def build_tile(tile: tuple[tuple[int, int], slice, np.ndarray]) -> TileCells:
        key, own, near = tile
        angle = None if layout.nucleus_angle is None else layout.nucleus_angle[own]
        radii = draw_nucleus_radii(codes[own], morphology, block_rng(nuclei_rng, key), celltype_names=names,
                                   orientation=angle)
        radii = fit_radii(radii, limit[own])
        tissue_region = own_region()
        if layout.weights is not None:
            sites = np.concatenate([centres[own], centres[near]])
            weights = np.concatenate([layout.weights[own], layout.weights[near]])
            cells = build_power_cells(sites, weights, own.stop - own.start, tissue_region, cap=layout.cap[own])
            # The fitted nucleus lies in the disc of `limit` about its site, which lies in its cell: it may
            # move by the room that disc leaves (see stages/nucleus_offset.py).
            centre = centres[own] + nucleus_shifts(
                cells, centres[own], block_rng(offset_rng, key), room=np.maximum(limit[own] - radii.max(axis=1), 0.0),
                elongated=~np.isnan(angle), offset=morphology.nucleus_offset,
            )
            return TileCells(own, star_polygons(centre, radii), cells, centre)
        voronoi = _voronoi_of_tile(centres, own, near, tissue_region)
        nuclei, cells = build_cell_polygons(
            centres[own], radii, voronoi, tissue_region, max_expansion_um=morphology.max_expansion_um
        )
        return TileCells(own, nuclei, cells, centres[own])

    n_threads = local_threads(config)
    yield from thread_map(build_tile, _tiles(centres, TILE_UM, layout.halo), n_threads=n_threads,
                          window=2 * n_threads)


def cell_frame(
    layout: TissueLayout,
    config: SimulationConfig,
    *,
    nucleus_area: np.ndarray,
    cell_area: np.ndarray,
    centroid: np.ndarray,
    nucleus_centre: np.ndarray | None = None,
) -> pd.DataFrame:
    """The columns of ``cell_gdf`` other than the polygons, from the layout and the polygons' measures.

    Parameters
    ----------
    layout
        From :func:`tissue_layout`.
    config
        The simulation config.
    nucleus_area, cell_area
        Areas of the polygons, µm².
    centroid
        ``(n, 2)`` centroids of the cell polygons.
    nucleus_centre
        ``(n, 2)`` nucleus centres (:attr:`TileCells.nucleus_centre`); ``None`` = the layout's
        centres (right only when no nucleus was moved: the expanded model or ``nucleus_offset`` 0).

    Returns
    -------
    The frame, columns in :data:`CELL_COLUMNS` order (without ``geometry`` and ``nucleus``).
    """
    names = config.celltype_names
    n, codes = layout.n_cells, layout.codes
    centres = layout.centres if nucleus_centre is None else nucleus_centre
    scale = size_factors(
        sizing_area(config, nucleus_area=nucleus_area, cell_area=cell_area, target_area=layout.target_area),
        codes, n_types=len(names), exponent=config.size_factor_exponent, level_cv=size_factor_cv(config),
        rng=block_rng(layout.rng, Block.SIZE_FACTOR),
    )
    leakage = np.array([config.leakage_by_celltype.get(name, 0.0) for name in names])
    celltype = pd.Categorical.from_codes(codes, categories=names).astype(str)
    return pd.DataFrame(
        {
            "cell_id": np.arange(n, dtype=np.int64),
            "celltype": np.asarray(celltype, dtype=object),
            "x": centroid[:, 0],
            "y": centroid[:, 1],
            "z": block_rng(layout.rng, Block.Z).uniform(0.0, config.tissue.section_thickness_um, n),
            "nucleus_x": centres[:, 0],
            "nucleus_y": centres[:, 1],
            "nucleus_area": nucleus_area,
            "cell_area": cell_area,
            "scale": scale,
            "leakage_percentage": leakage[codes],
        }
    )
