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

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from STpuppeteer._parallel import local_threads, thread_map
from STpuppeteer._random import Block, block_rng
from STpuppeteer.config.tissue import check_tissue_consistency, hardcore_distance_um
from STpuppeteer.stages.architecture import tissue_with_lumens
from STpuppeteer.stages.gaps import carve_gaps
from STpuppeteer.stages.morphology import draw_nucleus_radii, fit_radii, star_polygons
from STpuppeteer.stages.nucleus_offset import long_axis_angle, nucleus_shifts
from STpuppeteer.stages.nucleus_room import ellipse_room, fit_in_ellipse, room_along
from STpuppeteer.stages.positions import sample_centres, tissue_region
from STpuppeteer.stages.power_layout import build_power_cells, confluent_layout
from STpuppeteer.stages.size_factors import size_factor_cv, size_factors, sizing_area
from STpuppeteer.stages.spatial_pattern import assign_celltypes
from STpuppeteer.stages.stretched_cells import build_stretched_cells
from STpuppeteer.stages.tissue_layout import FIT_SAFETY, TissueLayout
from STpuppeteer.stages.voronoi_cells import build_cell_polygons, expanded_layout, voronoi_of_tile

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
        layout = confluent_layout(config, region, centres, codes, rng)
    else:
        # One cell has no neighbour to share the tissue with: it is the expanded model's cell.
        layout = expanded_layout(region, centres, codes, rng, max_expansion_um=morphology.max_expansion_um)
    return _in_tile_order(layout)



def _in_tile_order(layout: TissueLayout) -> TissueLayout:
    # Cells are numbered tile by tile (rows of tiles from y = 0, left to right).
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
