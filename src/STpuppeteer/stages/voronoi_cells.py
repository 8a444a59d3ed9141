"""The expanded cell model: a cell is its centre's Voronoi cell ∩ its nucleus grown by ``max_expansion_um``.

:func:`expanded_layout` bounds each nucleus by half the distance to its nearest neighbour (so it
lies in its Voronoi cell) and the tissue's edge, and sets the tiles' halo; per tile,
:func:`voronoi_of_tile` gives the Voronoi cells and :func:`build_cell_polygons` the nuclei and
cells, cut to the tissue. Cells leave gaps between them where nuclei are far apart.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree

from STpuppeteer.geometry.clip import boundary_distance, clip_to_region
from STpuppeteer.stages.morphology import star_polygons
from STpuppeteer.stages.tissue_layout import FIT_SAFETY, TissueLayout

__all__ = ["build_cell_polygons", "expanded_layout", "voronoi_of_tile"]


def expanded_layout(
    region: shapely.Polygon,
    centres: np.ndarray,
    codes: np.ndarray,
    rng: np.random.Generator,
    *,
    max_expansion_um: float,
) -> TissueLayout:
    """The expanded model's layout: each nucleus' limit and the tiles' halo.

    Parameters
    ----------
    region
        The tissue polygon.
    centres
        ``(n, 2)`` the cells' centres.
    codes
        Their cell-type codes.
    rng
        The stage's generator (kept in the layout).
    max_expansion_um
        Largest distance of a cell's boundary from its nucleus.

    Returns
    -------
    The layout, cells in the order given.
    """
    n = len(centres)
    # Half the nearest-neighbour distance bounds a disc inside the Voronoi cell.
    if n > 1:
        nearest = cKDTree(centres).query(centres, k=2)[0][:, 1]
    else:
        nearest = np.full(n, np.inf)
    limit = FIT_SAFETY * np.minimum(0.5 * nearest, boundary_distance(region, centres))

    # Each tile's Voronoi cells come from its own centres plus a halo wide enough that no
    # centre outside it can cut a cell (see voronoi_of_tile).
    halo = 2.0 * (float(limit.max(initial=0.0)) + max_expansion_um) * 1.01 + 1e-6
    return TissueLayout(region=region, centres=centres, codes=codes, limit=limit, halo=halo, rng=rng)


def voronoi_of_tile(xy: np.ndarray, own: slice, near: np.ndarray, region: shapely.Polygon) -> np.ndarray:
    """Voronoi cells of a tile's own centres, from them and the centres of its halo.

    Parameters
    ----------
    xy
        ``(n, 2)`` every centre.
    own
        The tile's centres.
    near
        Indices of the other centres within the halo.
    region
        The tissue polygon (the diagram reaches at least to it).

    Returns
    -------
    ``(own.stop - own.start,)`` polygons.
    """
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
    return nuclei, clip_to_region(cells, centres, region)
