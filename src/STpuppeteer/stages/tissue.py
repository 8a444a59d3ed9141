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
   (Laguerre) cell of its centre (:mod:`STpuppeteer.geometry.power`) ∩ the tissue; when some type
   is elongated, the power cells are built in a stretched plane and mapped back
   (:mod:`.cell_stretch`, :func:`build_stretched_cells`), and nuclei fit the ellipse of their
   cell's shape (:mod:`.nucleus_room`). The expanded model: Voronoi cell of the centre ∩ nucleus
   expanded radially by ``max_expansion_um`` ∩ the tissue. Either way each nucleus lies in its own
   cell and cells never overlap; a cell is star-shaped about its nucleus centre unless the
   tissue's outline cuts it (stretched cells: all but ~1.5 in 10⁴).
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
from STpuppeteer.geometry.power import lower_gap_bounds, power_cells
from STpuppeteer.stages.architecture import tissue_with_lumens
from STpuppeteer.stages.cell_room import make_room
from STpuppeteer.stages.cell_sizes import cell_targets
from STpuppeteer.stages.cell_stretch import stretch_map
from STpuppeteer.stages.gaps import carve_gaps
from STpuppeteer.stages.morphology import draw_nucleus_radii, fit_radii, star_polygons
from STpuppeteer.stages.nucleus_offset import long_axis_angle, nucleus_shifts
from STpuppeteer.stages.nucleus_room import ellipse_room, fit_in_ellipse, room_along
from STpuppeteer.stages.packing import equivalent_radius, pack_ellipses
from STpuppeteer.stages.positions import sample_centres, tissue_region
from STpuppeteer.stages.size_factors import size_factor_cv, size_factors, sizing_area
from STpuppeteer.stages.spatial_pattern import assign_celltypes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.geometry.stretch import GridMap
    from STpuppeteer.stages.cell_sizes import CellTargets

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
# Stretched cells (elongated types, cell_stretch.py): the bound on every cell's reach from its centre, in
# multiples of the largest target semi-major axis (checked on every cell; the tiles' halo is twice it).
_STRETCHED_REACH = 3.5
# Stretched cells are cut to this multiple of the radius of their target area's disc, in the stretched plane
# (where they are round; power cells exceed their target area by up to ~2× in the 95th percentile).
_STRETCHED_CAP = 3.5
# Corners of the polygons that stand for the caps' circles.
_CAP_VERTICES = 32
# Edges of stretched cells are split into pieces of at most this many steps of the map's grid.
_SEGMENT_STEPS = 3.0
# The stretched plane's cells are cut to the tissue grown by this fraction of a cell spacing (then to the
# tissue itself, back in the tissue's plane): a margin that keeps the cut's straight edges outside the tissue.
_STRETCH_MARGIN = 0.5


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
        Confluent model: the largest reach of each cell from its centre, µm (with ``stretch``: in the
        stretched plane, where cells are cut to the union of these caps).
    nucleus_angle
        Angle of each nucleus' long axis (radians), NaN where it is random (round cell types).
    stretch
        Confluent model with elongated types: the map of the tissue into the plane where the cells
        are power cells (:mod:`.cell_stretch`); ``None`` otherwise.
    sites
        With ``stretch``: ``(n, 2)`` the centres' images, the power cells' sites (``weights`` are
        in that plane's units).
    clip
        With ``stretch``: the tissue grown by a margin, in the stretched plane (cells are cut to it
        before they are mapped back).
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
    stretch: GridMap | None = None
    sites: np.ndarray | None = None
    clip: shapely.Polygon | None = None
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
    lower_gap_bounds(centres, weights, i, j, gap)
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
    stretch = stretch_map(
        centres,
        targets,
        region,
        orientation_rng=block_rng(rng, Block.ORIENTATION),
        length_um=morphology.orientation_length_um,
    )
    if stretch is not None:
        return _stretched_layout(region, inner, centres, codes, rng, targets=targets, radius=radius, stretch=stretch)
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


def _stretched_layout(
    region: shapely.Polygon,
    inner: shapely.Polygon,
    centres: np.ndarray,
    codes: np.ndarray,
    rng: np.random.Generator,
    *,
    targets: CellTargets,
    radius: np.ndarray,
    stretch: GridMap,
) -> TissueLayout:
    # The cells are power cells of the centres' images in the stretched plane, where a length scales by
    # about √(area factor) of the map: the packing's discs and the weights take the radii scaled alike. The
    # centres are packed there as discs (an elongated cell's ellipse is a disc there), then mapped back.
    n = len(centres)
    sites = stretch.forward(centres)
    area_factor = np.linalg.det(stretch.jacobian(centres))
    inner_sites = shapely.transform(shapely.segmentize(inner, 0.5 * stretch.step), stretch.forward)
    shapely.prepare(inner_sites)
    moved = pack_ellipses(
        sites, inner_sites, radius=radius * np.sqrt(area_factor), aspect=np.ones(n), theta=np.zeros(n)
    )
    step_back = np.einsum("nij,nj->ni", np.linalg.inv(stretch.jacobian(centres)), moved - sites)
    packed = stretch.inverse(moved, centres + step_back)
    # The stretched image of `inner` has straight edges where the true image is curved: a centre the packing left
    # just outside `inner` keeps its place instead (as a move out of the region is not made).
    stays = shapely.contains_xy(inner, *packed.T)
    centres = np.where(stays[:, None], packed, centres)
    sites = np.where(stays[:, None], moved, sites)
    area_factor = np.linalg.det(stretch.jacobian(centres))
    spacing = math.sqrt(region.area / n * float(np.mean(area_factor)))
    weights, _ = _power_weights(sites, radius * np.sqrt(area_factor), spacing)
    # Not used by the tiles: nuclei are fitted to their mapped-back cells (nucleus_room.py), which the tissue's
    # edge bounds; kept as the layout's bound for them.
    limit = _boundary_distance(region, centres)
    # Caps in the stretched plane, where cells are round: _STRETCHED_CAP × the radius of the disc of the target area.
    cap = _STRETCHED_CAP * np.sqrt(targets.area * area_factor / math.pi)
    semi_major = np.sqrt(targets.area / math.pi * targets.aspect)
    angle = np.where(targets.aspect > 1.0, targets.theta, np.nan)
    margin = _STRETCH_MARGIN * math.sqrt(region.area / n)
    grown = shapely.segmentize(shapely.buffer(region, margin), 0.5 * stretch.step)
    clip = shapely.transform(grown, stretch.forward)
    if not shapely.is_valid(clip):
        clip = shapely.make_valid(clip)

    order = _tile_order(centres, TILE_UM)
    centres, codes, limit, weights, cap, angle, sites, target_area = (
        a[order] for a in (centres, codes, limit, weights, cap, angle, sites, targets.area)
    )
    # Cut to the caps, every cell reaches at most about _STRETCHED_REACH × the largest semi-major axis from its
    # centre (checked when it is built), so two cells that share a corner have centres at most twice that apart;
    # and a cap that reaches a cell has its site at most that reach plus the cap's own reach back in the tissue's
    # plane away (the cap's radius over the map's least stretch at its site, with a tenth for the map's bending).
    reach = _STRETCHED_REACH * float(semi_major.max())
    least_stretch = np.linalg.svd(stretch.jacobian(centres), compute_uv=False)[:, 1]
    cap_reach = 1.1 * float(np.max(cap / math.cos(math.pi / _CAP_VERTICES) / least_stretch))
    halo = (reach + max(reach, cap_reach)) * 1.01 + 1e-6
    return TissueLayout(
        region=region,
        centres=centres,
        codes=codes,
        limit=limit,
        halo=halo,
        rng=rng,
        weights=weights,
        cap=cap,
        nucleus_angle=angle,
        stretch=stretch,
        sites=sites,
        clip=clip,
        target_area=target_area,
    )


def _reach(cells: np.ndarray, centres: np.ndarray) -> np.ndarray:
    # The largest distance of each polygon's corners from its centre.
    xy, index = shapely.get_coordinates(cells, return_index=True)
    far = np.zeros(len(cells))
    np.maximum.at(far, index, np.hypot(*(xy - centres[index]).T))
    return far


def _cut_to_caps(cells: np.ndarray, reach: np.ndarray, sites: np.ndarray, cap: np.ndarray) -> np.ndarray:
    # Cells reaching beyond their cap lose what no site's cap covers: one global region (the union of the caps),
    # so neighbours are cut alike and the cells' reach is bounded.
    n_own = len(cells)
    long = np.flatnonzero(reach > cap[:n_own])
    if len(long) == 0:
        return cells
    out = cells.copy()
    tree = cKDTree(sites)
    # Polygons around the caps' circles, so a cell within its cap lies in the union and is never cut.
    outer = cap / math.cos(math.pi / _CAP_VERTICES)
    piece = np.empty(1, dtype=object)
    for i in long:
        near = np.asarray(tree.query_ball_point(sites[i], reach[i] + float(outer.max())), dtype=np.int64)
        near = near[np.hypot(*(sites[near] - sites[i]).T) < reach[i] + outer[near]]
        discs = star_polygons(sites[near], np.repeat(outer[near, None], _CAP_VERTICES, axis=1))
        piece[0] = shapely.intersection(cells[i], shapely.union_all(discs))
        out[i] = _largest_part_at(piece, sites[i : i + 1])[0]
    return out


def _split_long_edges(cells: np.ndarray, max_length: float) -> np.ndarray:
    # Like shapely.segmentize, but the points put on an edge depend on the edge alone, not on its direction: the
    # two cells that share it get the very same points.
    xy, index = shapely.get_coordinates(cells, return_index=True)
    step = np.hypot(*np.diff(xy, axis=0).T)
    long = np.zeros(len(cells), dtype=bool)
    long[index[1:][(step > max_length) & (index[1:] == index[:-1])]] = True
    if not long.any():
        return cells
    out = cells.copy()
    out[long] = _split_edges(cells[long], max_length)
    return out


def _split_edges(cells: np.ndarray, max_length: float) -> np.ndarray:
    _, coords, (ring_offsets, polygon_offsets) = shapely.to_ragged_array(cells)
    n_rings = len(ring_offsets) - 1
    ring = np.repeat(np.arange(n_rings), np.diff(ring_offsets))
    start = np.flatnonzero(ring[:-1] == ring[1:])
    a, b = coords[start], coords[start + 1]
    pieces = np.maximum(np.ceil(np.hypot(*(b - a).T) / max_length).astype(np.int64), 1)
    # Each edge gives its first corner and pieces − 1 inner points, in order; each ring then gets its closing corner.
    first = np.cumsum(pieces) - pieces
    k = np.arange(int(pieces.sum())) - np.repeat(first, pieces)
    n = np.repeat(pieces, pieces)
    a_first = (a[:, 0] < b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] <= b[:, 1]))
    lo, hi = np.where(a_first[:, None], a, b), np.where(a_first[:, None], b, a)
    t = np.where(np.repeat(a_first, pieces), k, n - k) / n
    points = np.repeat(lo, pieces, axis=0) + t[:, None] * np.repeat(hi - lo, pieces, axis=0)
    points[first] = a
    edge_ring = np.repeat(ring[start], pieces)
    counts = np.bincount(edge_ring, minlength=n_rings) + 1
    new_offsets = np.concatenate([[0], np.cumsum(counts)])
    out = np.empty((new_offsets[-1], 2))
    out[np.arange(len(points)) + edge_ring] = points  # every earlier ring's closing corner comes before
    out[new_offsets[1:] - 1] = coords[ring_offsets[1:] - 1]
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, out, (new_offsets, polygon_offsets))


def build_stretched_cells(
    layout: TissueLayout,
    own: slice,
    near: np.ndarray,
    region: shapely.Polygon,
    clip: shapely.Polygon,
) -> tuple[np.ndarray, np.ndarray]:
    """Confluent cells of a tile's own centres when elongated types are present (:mod:`.cell_stretch`).

    The power cells of the sites (the centres' images in the stretched plane) are cut to ``clip``
    (the tissue grown by a margin, in that plane) and to the union of the sites' caps, their long
    edges are split, their corners are mapped back to the tissue's plane, and the cells are cut to
    the tissue.

    Parameters
    ----------
    layout
        From :func:`tissue_layout`, with ``stretch``.
    own
        The tile's cells.
    near
        Every other cell that can cut them.
    region, clip
        The tissue polygon and ``layout.clip``, prepared by the caller.

    Returns
    -------
    ``(cells, nucleus_centre)``: ``(n_own,)`` valid polygons and ``(n_own, 2)`` a point inside each, the
    centre (unless mapping back left it outside its cell: then a point inside). All but a few cells in
    10⁴ are star-shaped about it (not where the map bends sharply within a cell; ``docs/model_tissue.md``).

    Raises
    ------
    RuntimeError
        If a cell reaches farther than half the tiles' halo (then tiles could differ from the whole
        tissue) or does not hold its centre (not seen in the tests).
    """
    stretch = layout.stretch
    centres = layout.centres[own]
    n_own = len(centres)
    sites = np.concatenate([layout.sites[own], layout.sites[near]])
    weights = np.concatenate([layout.weights[own], layout.weights[near]])
    cells, reach = power_cells(sites, weights, n_own)
    cut = ~shapely.contains(clip, cells)
    cells[cut] = _largest_part_at(shapely.intersection(cells[cut], clip), sites[:n_own][cut])
    reach[cut] = _reach(cells[cut], sites[:n_own][cut])
    cells = _cut_to_caps(cells, reach, sites, np.concatenate([layout.cap[own], layout.cap[near]]))
    # A straight edge in the stretched plane is a curve in the tissue's: long edges are split so that the mapped-back
    # corners follow it.
    cells = _split_long_edges(cells, _SEGMENT_STEPS * stretch.step)
    # Corners go back by Newton's method, each distinct corner once (cells that share it get the very same point),
    # started from the first of its cells' centres and the map's derivative there.
    corners, index = shapely.get_coordinates(cells, return_index=True)
    _, first, where = np.unique(corners[:, 0] + 1j * corners[:, 1], return_index=True, return_inverse=True)
    owner = index[first]
    inverse_jacobian = np.linalg.inv(stretch.jacobian(centres))
    guess = centres[owner] + np.einsum("nij,nj->ni", inverse_jacobian[owner], corners[first] - sites[:n_own][owner])
    back = stretch.inverse(corners[first], guess)[where]
    cells = shapely.transform(cells, lambda _: back)
    if _reach(cells, centres).max(initial=0.0) > 0.5 * layout.halo:
        msg = (
            "a stretched cell reaches farther than the tiles' halo allows; lower morphology.cell_elongation "
            "or raise morphology.orientation_length_um"
        )
        raise RuntimeError(msg)
    # A cut cell's sliver along the margin can cross itself once mapped back (a chord against the curved image of
    # another edge); the margin lies outside the tissue, so the repaired piece is cut away below.
    crossed = ~shapely.is_valid(cells)
    if crossed.any():
        cells[crossed] = _largest_part_at(shapely.make_valid(cells[crossed]), centres[crossed])
    cells = _clip_to_region(cells, centres, region)
    # A centre lies in its cell in the stretched plane, at a distance from its edges; mapped back, a sharp bend of
    # the map could leave it outside (not seen since the centres are packed in the stretched plane): its nucleus
    # then goes to a point inside the cell.
    nucleus_centre = centres.copy()
    lost = ~shapely.contains_xy(cells, *centres.T)
    if lost.any():
        nucleus_centre[lost] = shapely.get_coordinates(shapely.point_on_surface(cells[lost]))
    return cells, nucleus_centre


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

    def own_clip() -> shapely.Polygon:
        if not hasattr(per_thread, "clip"):
            per_thread.clip = shapely.from_wkb(shapely.to_wkb(layout.clip))
            shapely.prepare(per_thread.clip)
        return per_thread.clip

    def build_tile(tile: tuple[tuple[int, int], slice, np.ndarray]) -> TileCells:
        key, own, near = tile
        angle = None if layout.nucleus_angle is None else layout.nucleus_angle[own]
        radii = draw_nucleus_radii(codes[own], morphology, block_rng(nuclei_rng, key), celltype_names=names,
                                   orientation=angle)
        tissue_region = own_region()
        if layout.stretch is not None:
            cells, site = build_stretched_cells(layout, own, near, tissue_region, own_clip())
            # The nucleus is fitted to (and moves within) the ellipse of the cell's own shape about its centre
            # that lies inside the cell (stages/nucleus_room.py).
            shape = layout.stretch.jacobian(site)
            scale = _FIT_SAFETY * ellipse_room(cells, site, shape)
            radii = fit_in_ellipse(radii, shape, scale)
            elongated = ~np.isnan(angle)
            room = np.zeros(len(site))
            if morphology.nucleus_offset > 0 and elongated.any():
                room[elongated] = room_along(
                    radii[elongated],
                    shape[elongated],
                    scale[elongated],
                    long_axis_angle(cells[elongated], site[elongated]),
                )
            centre = site + nucleus_shifts(
                cells,
                site,
                block_rng(offset_rng, key),
                room=room,
                elongated=elongated,
                offset=morphology.nucleus_offset,
            )
            return TileCells(own, star_polygons(centre, radii), cells, centre)
        radii = fit_radii(radii, limit[own])
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
