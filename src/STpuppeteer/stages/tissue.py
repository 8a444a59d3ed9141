"""Stage 2: the tissue — cell positions, cell types in space, nuclei and cell polygons.

This module is the stage's face: :func:`generate_cells` chains the sub-steps, :func:`tissue_layout`
decides what is global and :func:`cell_frame` gives ``cell_gdf`` its columns (:data:`CELL_COLUMNS`);
the work is done in rooms of one job each. Each sub-step has its own random stream keyed by a
fixed name (so changing one sub-step never shifts another's draws):

1. the tissue polygon and blue-noise centres (:mod:`.positions`);
2. cell types (:mod:`.spatial_pattern`);
3. nuclei (:mod:`.morphology`), shrunk where needed so each fits inside the disc of half
   the distance to its nearest neighbour (always inside its Voronoi cell) and the tissue;
4. cells. The confluent model (default, :mod:`.power_layout`): each cell gets a target area,
   elongation and direction (:mod:`.cell_sizes`), the centres are moved so each neighbourhood has
   the room its cells need (:mod:`.cell_room`) and packed as hard ellipses (:mod:`.packing`), and a
   cell is the power (Laguerre) cell of its centre (:mod:`STpuppeteer.geometry.power`, weights from
   :mod:`.power_weights`) ∩ the tissue; when some type is elongated, the power cells are built in a
   stretched plane and mapped back (:mod:`.cell_stretch`, :mod:`.stretched_cells`), and nuclei fit
   the ellipse of their cell's shape (:mod:`.nucleus_room`). The expanded model
   (:mod:`.voronoi_cells`): Voronoi cell of the centre ∩ nucleus expanded radially by
   ``max_expansion_um`` ∩ the tissue. Either way each nucleus lies in its own cell and cells never
   overlap; a cell is star-shaped about its nucleus centre unless the tissue's outline cuts it
   (:mod:`STpuppeteer.geometry.clip`; stretched cells: all but ~1.5 in 10⁴).
5. confluent model: nuclei of elongated cells move along their cell's long axis towards a random
   end (:mod:`.nucleus_offset`), staying inside their cell.

The tissue may have gaps (:mod:`.gaps`): holes in the region that no cell covers.

What is decided for the whole tissue is a :class:`~.tissue_layout.TissueLayout`. Nuclei and cells
are then built tile by tile (:mod:`.tiles`: fixed square tiles of ``TILE_UM``; bounded memory),
each tile's nucleus draws from a generator keyed by the tile's (row, column), and cells are
numbered tile by tile (rows of tiles from y = 0, left to right).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from STpuppeteer._random import Block, block_rng
from STpuppeteer.config.tissue_checks import check_tissue_consistency, hardcore_distance_um
from STpuppeteer.stages.architecture import tissue_with_lumens
from STpuppeteer.stages.gaps import carve_gaps
from STpuppeteer.stages.positions import sample_centres, tissue_region
from STpuppeteer.stages.power_layout import build_power_cells, confluent_layout
from STpuppeteer.stages.size_factors import size_factor_cv, size_factors, sizing_area
from STpuppeteer.stages.spatial_pattern import assign_celltypes
from STpuppeteer.stages.stretched_cells import build_stretched_cells
from STpuppeteer.stages.tiles import TILE_UM, TileCells, build_tile_cells, build_tiles, in_tile_order
from STpuppeteer.stages.tissue_layout import TissueLayout
from STpuppeteer.stages.voronoi_cells import build_cell_polygons, expanded_layout

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

# TILE_UM and the builders are re-exported for callers of this path; the tiles read
# tiles.TILE_UM, so a test that changes the tile size patches it there.
__all__ = [
    "CELL_COLUMNS",
    "TILE_UM",
    "TileCells",
    "TissueLayout",
    "build_cell_polygons",
    "build_power_cells",
    "build_stretched_cells",
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
    return in_tile_order(layout)


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
