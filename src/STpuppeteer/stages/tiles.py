"""The tissue's tiles: cells numbered tile by tile, and their nuclei and polygons built tile by tile.

Tiles are fixed squares of :data:`TILE_UM` (bounded memory). A tile's cells are built from its
own centres and the halo of other tiles' centres that can cut them (``TissueLayout.halo``), so
the cells do not depend on the tiles; each tile's nuclei draw from a generator keyed by the
tile's (row, column). :func:`build_tile_cells` hands each tile to its cell model
(:mod:`.voronoi_cells`, :mod:`.power_layout`, :mod:`.stretched_cells`) and fits the nuclei.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from STpuppeteer._parallel import local_threads, thread_map
from STpuppeteer._random import Block, block_rng
from STpuppeteer.stages.morphology import draw_nucleus_radii, fit_radii, star_polygons
from STpuppeteer.stages.nucleus_offset import long_axis_angle, nucleus_shifts
from STpuppeteer.stages.nucleus_room import ellipse_room, fit_in_ellipse, room_along
from STpuppeteer.stages.power_layout import build_power_cells
from STpuppeteer.stages.stretched_cells import build_stretched_cells
from STpuppeteer.stages.tissue_layout import FIT_SAFETY
from STpuppeteer.stages.voronoi_cells import build_cell_polygons, voronoi_of_tile

if TYPE_CHECKING:
    from collections.abc import Iterator

    from STpuppeteer.config import SimulationConfig
    from STpuppeteer.stages.tissue_layout import TissueLayout

__all__ = ["TILE_UM", "TileCells", "build_tile_cells", "build_tiles", "in_tile_order"]

#: Side of the fixed square tiles (µm) in which nuclei and cells are built; the nucleus
#: draws of a tile are keyed by its (row, column), so they do not depend on other tiles.
TILE_UM = 1000.0


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


def in_tile_order(layout: TissueLayout) -> TissueLayout:
    """The layout with its cells numbered tile by tile (rows of tiles from y = 0, left to right).

    Parameters
    ----------
    layout
        A layout, cells in any order.

    Returns
    -------
    The layout in the order :func:`build_tile_cells` needs.
    """
    return layout.take(_tile_order(layout.centres, TILE_UM))


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
    """:func:`build_tile_cells` as ``(rows, nuclei, cells)`` tuples, without the nucleus centres (older callers)."""
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
        From :func:`~STpuppeteer.stages.tissue.tissue_layout`.
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
            scale = FIT_SAFETY * ellipse_room(cells, site, shape)
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
        voronoi = voronoi_of_tile(centres, own, near, tissue_region)
        nuclei, cells = build_cell_polygons(
            centres[own], radii, voronoi, tissue_region, max_expansion_um=morphology.max_expansion_um
        )
        return TileCells(own, nuclei, cells, centres[own])

    n_threads = local_threads(config)
    yield from thread_map(build_tile, _tiles(centres, TILE_UM, layout.halo), n_threads=n_threads,
                          window=2 * n_threads)
