"""The tissue stage's plan: centres, cell types and bounds of the whole tissue, before any polygon.

:func:`STpuppeteer.stages.tissue.tissue_layout` makes it (through the cell model's layout:
:mod:`.voronoi_cells`, :mod:`.power_layout` or :mod:`.stretched_cells`); the tiles
(:mod:`.tiles`) build the polygons from it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import shapely

    from STpuppeteer.geometry.stretch import GridMap

__all__ = ["FIT_SAFETY", "TissueLayout"]

#: Nuclei stay this fraction inside the disc that is guaranteed to be in their Voronoi cell
#: (or power cell, or the room of their cell's ellipse).
FIT_SAFETY = 0.98


@dataclass(frozen=True)
class TissueLayout:
    """What the tissue stage decides for the whole tissue before any polygon is built.

    Centres (hard-core point process) and cell types are global (see ``docs/scale.md``);
    they cost a few dozen bytes a cell. Polygons are then built tile by tile from it
    (:func:`.tiles.build_tile_cells`), so a caller may keep them in any form it likes. Every
    array attribute has one row a cell, in cell order (:meth:`take` keeps them so).

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

    def take(self, order: np.ndarray) -> TissueLayout:
        """The same layout with its cells in ``order`` (every array attribute taken alike).

        Parameters
        ----------
        order
            Indices of the cells in their new order.

        Returns
        -------
        A new layout.
        """
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(self, **{name: a[order] for name, a in arrays.items() if isinstance(a, np.ndarray)})
