"""The cells of a whole slide held compactly: polygons as coordinate arrays, not shapely objects.

A shapely polygon costs about 1.3 KB (the GEOS geometry, its coordinate sequence and the
Python object) on top of its coordinates; a million cells with their nuclei take 2.6 GB that
way. :class:`CellStore` keeps each exterior ring's float64 coordinates in one array with
offsets (about 1 KB a cell for both polygons) and rebuilds shapely polygons, bit for bit the
same, only for the rows a block asks for. It is filled tile by tile from
:func:`~STpuppeteer.stages.tissue.build_tile_cells`, so the whole tissue is never held as objects.
Cells and nuclei have no holes (a Voronoi cell cut by a star-shaped reach is star-shaped), so
the exterior ring is the whole polygon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from STpuppeteer.geometry.rings import Rings
from STpuppeteer.geometry.star import StarPolygons
from STpuppeteer.stages.tissue import CELL_COLUMNS, build_tile_cells, cell_frame, tissue_layout
from STpuppeteer.stages.transcripts import CellGeometry

if TYPE_CHECKING:
    from STpuppeteer.config import SimulationConfig
__all__ = ["CellStore"]


@dataclass(frozen=True)
class CellStore:
    """The cells of ``cell_gdf`` without shapely objects: its other columns and the two polygon sets.

    Attributes
    ----------
    frame
        ``cell_gdf``'s columns other than ``geometry`` and ``nucleus``.
    cells, nuclei
        The cell and nucleus polygons.
    cell_bounds
        ``(n, 4)`` bounding boxes of the cells.
    nucleus_centroid
        ``(n, 2)`` centroids of the nuclei.
    nucleus_centre
        ``(n, 2)`` nucleus centres (``nucleus_x``, ``nucleus_y``: each polygon is star-shaped about it).
    box_tree
        k-d tree of the centres of the cells' bounding boxes.
    box_reach
        Largest half-diagonal of a cell's bounding box (with a rounding margin).
    """

    frame: pd.DataFrame
    cells: Rings
    nuclei: Rings
    cell_bounds: np.ndarray
    nucleus_centroid: np.ndarray
    nucleus_centre: np.ndarray
    box_tree: cKDTree
    box_reach: float

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def generate(cls, config: SimulationConfig, rng: np.random.Generator) -> CellStore:
        """Stage 2 straight into a store: the cells of :func:`~STpuppeteer.stages.tissue.generate_cells`.

        Parameters
        ----------
        config
            The simulation config.
        rng
            The tissue stage's generator.

        Returns
        -------
        The store; ``store.gdf()`` equals ``generate_cells(config, rng)``.
        """
        layout = tissue_layout(config, rng)
        n = layout.n_cells
        cells, nuclei = [], []
        nucleus_area, cell_area = np.empty(n), np.empty(n)
        centroid, nucleus_centroid, nucleus_centre = np.empty((n, 2)), np.empty((n, 2)), np.empty((n, 2))
        for tile in build_tile_cells(layout, config):
            own, tile_nuclei, tile_cells = tile.rows, tile.nuclei, tile.cells
            nucleus_centre[own] = tile.nucleus_centre
            nuclei.append(Rings.from_polygons(tile_nuclei))
            cells.append(Rings.from_polygons(tile_cells))
            nucleus_area[own], cell_area[own] = shapely.area(tile_nuclei), shapely.area(tile_cells)
            centroid[own] = shapely.get_coordinates(shapely.centroid(tile_cells))
            nucleus_centroid[own] = shapely.get_coordinates(shapely.centroid(tile_nuclei))
        frame = cell_frame(layout, config, nucleus_area=nucleus_area, cell_area=cell_area, centroid=centroid,
                           nucleus_centre=nucleus_centre)
        cell_rings = Rings.concat(cells)
        bounds = cell_rings.bounds()
        b = np.nan_to_num(bounds)
        half = 0.5 * np.hypot(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        return cls(frame, cell_rings, Rings.concat(nuclei), bounds, nucleus_centroid,
                   nucleus_centre=frame[["nucleus_x", "nucleus_y"]].to_numpy(dtype=np.float64),
                   box_tree=cKDTree(0.5 * (b[:, :2] + b[:, 2:])),
                   box_reach=float(half.max(initial=0.0)) * (1 + 1e-9) + 1e-9)

    def gdf(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        """``cell_gdf`` of ``rows`` (all when ``None``) as a GeoDataFrame, with shapely polygons."""
        import geopandas as gpd

        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        frame = self.frame.iloc[rows].reset_index(drop=True)
        out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(self.cells.polygons(rows), index=frame.index))
        out["nucleus"] = gpd.GeoSeries(self.nuclei.polygons(rows), index=frame.index)
        return out[list(CELL_COLUMNS)]

    def rows_near(self, box: np.ndarray) -> np.ndarray:
        """Rows of the cells whose bounding box meets ``box`` (``xmin, ymin, xmax, ymax``), sorted."""
        box = np.asarray(box, dtype=np.float64)
        b = self.cell_bounds
        radius = 0.5 * float(np.hypot(*(box[2:] - box[:2]))) + self.box_reach
        near = np.asarray(self.box_tree.query_ball_point(0.5 * (box[:2] + box[2:]), radius), dtype=np.int64)
        meets = (b[near, 0] <= box[2]) & (b[near, 2] >= box[0]) & (b[near, 1] <= box[3]) & (b[near, 3] >= box[1])
        return np.sort(near[meets])

    def nucleus_fans(self, rows: np.ndarray) -> StarPolygons:
        """Fans of the nuclei ``rows`` about their centres, straight from the coordinates."""
        return self._fans(self.nuclei, rows)

    def geometry(self, rows: np.ndarray, *, thickness: float) -> CellGeometry:
        """Stage 4's geometry of the cells ``rows`` (equal to ``CellGeometry.from_cells(cell_gdf.iloc[rows])``)."""
        return CellGeometry.from_fans(self._fans(self.cells, rows), self._fans(self.nuclei, rows),
                                      z=self.frame["z"].to_numpy()[rows], thickness=thickness)

    def _fans(self, rings: Rings, rows: np.ndarray) -> StarPolygons:
        rows = np.asarray(rows, dtype=np.int64)
        coords, start = rings.gather(rows)
        return StarPolygons.from_rings(coords, start, self.nucleus_centre[rows], lambda odd: rings.polygons(rows[odd]))

    def nucleus_polygons(self, rows: np.ndarray) -> np.ndarray:
        """Shapely nucleus polygons of ``rows`` (the store is a nucleus source of :mod:`.io.nucleus_distance`)."""
        return self.nuclei.polygons(rows)
