"""The confluent model: cells that fill the tissue, the power cells of packed centres.

:func:`confluent_layout` draws each cell's target area, elongation and direction
(:mod:`.cell_sizes`), gives each neighbourhood the room its cells need (:mod:`.cell_room`), packs
the centres as hard ellipses (:mod:`.packing`) and weights them (:mod:`.power_weights`); when
some type is elongated it hands over to :mod:`.stretched_cells`. Per tile,
:func:`build_power_cells` cuts each power cell (:mod:`STpuppeteer.geometry.power`) to its cap and
to the tissue.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely

from STpuppeteer._random import Block, block_rng
from STpuppeteer.config.tissue_checks import hardcore_distance_um
from STpuppeteer.geometry.clip import boundary_distance, clip_to_region
from STpuppeteer.geometry.power import power_cells
from STpuppeteer.stages.cell_room import make_room
from STpuppeteer.stages.cell_sizes import cell_targets
from STpuppeteer.stages.cell_stretch import stretch_map
from STpuppeteer.stages.morphology import star_polygons
from STpuppeteer.stages.packing import equivalent_radius, pack_ellipses
from STpuppeteer.stages.power_weights import power_weights
from STpuppeteer.stages.stretched_cells import stretched_layout
from STpuppeteer.stages.tissue_layout import FIT_SAFETY, TissueLayout

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig

__all__ = ["build_power_cells", "confluent_layout"]

# A confluent cell reaches at most this multiple of its long semi-axis from its centre (it binds only
# where a cell borders a gap or the tissue's edge); it bounds the halo of the tiles.
_CAP_FACTOR = 2.5


def confluent_layout(
    config: SimulationConfig,
    region: shapely.Polygon,
    centres: np.ndarray,
    codes: np.ndarray,
    rng: np.random.Generator,
) -> TissueLayout:
    """The confluent model's layout: target sizes, room, packing and power weights of the centres.

    With some type elongated the rest is :func:`~STpuppeteer.stages.stretched_cells.stretched_layout`.

    Parameters
    ----------
    config
        The simulation config (``tissue``, ``morphology``).
    region
        The tissue polygon.
    centres
        ``(n, 2)`` the blue-noise centres, n > 1.
    codes
        Their cell-type codes.
    rng
        The stage's generator (its keyed sub-streams draw the areas and orientations).

    Returns
    -------
    The layout, cells in the order given.
    """
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
        return stretched_layout(region, inner, centres, codes, rng, targets=targets, radius=radius, stretch=stretch)
    centres = pack_ellipses(centres, inner, radius=radius, aspect=targets.aspect, theta=targets.theta)
    weights, gap = power_weights(centres, radius, spacing)
    limit = FIT_SAFETY * np.minimum(gap, boundary_distance(region, centres))
    semi_major = np.sqrt(targets.area / math.pi * targets.aspect)
    cap = np.maximum(_CAP_FACTOR * semi_major, limit)
    angle = np.where(targets.aspect > 1.0, targets.theta, np.nan)

    # A centre at distance d cuts a cell within reach R of its centre only if (d² − Δw) / (2d) < R.
    reach, spread = float(cap.max()), float(np.ptp(weights))
    halo = (reach + math.sqrt(reach * reach + spread)) * 1.01 + 1e-6
    return TissueLayout(region=region, centres=centres, codes=codes, limit=limit, halo=halo, rng=rng,
                        weights=weights, cap=cap, nucleus_angle=angle, target_area=targets.area)


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
    return clip_to_region(cells, centres[:n_own], region)
