"""The cells' geometry as stage 4 reads it: fans of cells and nuclei, the landing locator, z ranges."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from STpuppeteer.geometry.locate import CellLocator
from STpuppeteer.geometry.star import StarPolygons

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["CellGeometry"]


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
