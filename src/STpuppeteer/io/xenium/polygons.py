"""The cells' and nuclei's polygons as the Xenium files need them, and the boundary files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import shapely

from STpuppeteer.geometry.rings import Rings
from STpuppeteer.io.parquet import ParquetStream
from STpuppeteer.io.xenium import _constants as xc

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

_C = xc.XeniumCellColumns
# Cells per row group of the boundary files (their vertices and ids are built a group at a time).
_BOUNDARY_CELLS_PER_GROUP = 65_536

__all__ = ["CellPolygons", "single_polygons", "write_boundaries"]



@dataclass(frozen=True)
class CellPolygons:
    """The cells' and nuclei's polygons as the writers need them: measures, and polygons by slice.

    Attributes
    ----------
    cell_area, nucleus_area
        Areas, µm².
    cell_centroid, nucleus_centroid
        ``(n, 2)`` centroids.
    cells, nuclei
        ``cells(lo, hi)`` gives the polygons of cells ``lo:hi`` (likewise ``nuclei``).
    cell_rings, nucleus_rings
        ``cell_rings(lo, hi)`` gives their exterior rings (vertices and ``(n + 1,)`` offsets,
        as :meth:`~STpuppeteer.pipeline.cell_store.Rings.gather`), which the boundary files list,
        without polygons where the caller holds coordinates.
    """

    cell_area: np.ndarray
    nucleus_area: np.ndarray
    cell_centroid: np.ndarray
    nucleus_centroid: np.ndarray
    cells: Callable[[int, int], np.ndarray]
    nuclei: Callable[[int, int], np.ndarray]
    cell_rings: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    nucleus_rings: Callable[[int, int], tuple[np.ndarray, np.ndarray]]

    def __len__(self) -> int:
        return len(self.cell_area)

    @classmethod
    def from_arrays(cls, cells: np.ndarray, nuclei: np.ndarray) -> CellPolygons:
        """From arrays of shapely polygons."""
        return cls(
            cell_area=shapely.area(cells),
            nucleus_area=shapely.area(nuclei),
            cell_centroid=shapely.get_coordinates(shapely.centroid(cells)),
            nucleus_centroid=shapely.get_coordinates(shapely.centroid(nuclei)),
            cells=lambda lo, hi: cells[lo:hi],
            nuclei=lambda lo, hi: nuclei[lo:hi],
            cell_rings=lambda lo, hi: _rings(cells[lo:hi]),
            nucleus_rings=lambda lo, hi: _rings(nuclei[lo:hi]),
        )


def single_polygons(geoms: np.ndarray) -> np.ndarray:
    """One polygon per geometry: the largest part of a multipolygon, holes dropped."""
    simple = shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON
    if simple.all() and not shapely.is_empty(geoms).any() and not shapely.get_num_interior_rings(geoms).any():
        return np.asarray(geoms, dtype=object)  # already what is wanted; a copy of a slide's polygons costs GBs
    parts, index = shapely.get_parts(geoms, return_index=True)
    order = np.lexsort((-shapely.area(parts), index))
    first = order[np.r_[True, index[order][1:] != index[order][:-1]]]
    if len(first) != len(geoms):
        msg = "cell_gdf has an empty cell or nucleus polygon; every cell needs both."
        raise ValueError(msg)
    return shapely.polygons(shapely.get_exterior_ring(parts[first]))


def _rings(polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exterior rings of polygons without holes: vertices and offsets."""
    rings = Rings.from_polygons(polygons)
    return rings.coords, rings.start


def _boundary_table(rings: tuple[np.ndarray, np.ndarray], cell_codes: pa.Array, first: int) -> pa.Table:
    """Vertices of each polygon's closed exterior ring, rows contiguous per polygon.

    ``rings`` (vertices and ``(n + 1,)`` offsets) are those of cells ``first, first + 1, …``;
    ``cell_codes`` are all cells' ids.
    """
    coords, start = rings
    n = len(start) - 1
    index = np.repeat(np.arange(n), np.diff(start))
    # The ids as a dictionary of the slice's cells (Parquet writes it without hashing a string per vertex).
    ids = pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), cell_codes.slice(first, n))
    index = index + first
    return pa.table(
        {
            _C.CELL_ID: ids,
            _C.VERTEX_X: pa.array(coords[:, 0].astype(np.float32)),
            _C.VERTEX_Y: pa.array(coords[:, 1].astype(np.float32)),
            _C.LABEL_ID: pa.array((index + 1).astype(np.uint32)),
        }
    )


def write_boundaries(path: Path, rings: Callable[[int, int], tuple[np.ndarray, np.ndarray]], n: int,
                      cell_codes: np.ndarray) -> None:
    """A boundaries file, written a slice of cells at a time (one row group each: bounded memory).

    ``rings(lo, hi)`` gives the exterior rings of cells ``lo:hi`` (vertices and offsets). The
    ids are written as a dictionary, without the Arrow schema, so they read back as strings.
    """
    codes = pa.array(np.asarray(cell_codes, dtype=object), type=pa.string())
    stream = ParquetStream(path, store_schema=False)
    try:
        for lo in range(0, max(n, 1), _BOUNDARY_CELLS_PER_GROUP):
            hi = min(lo + _BOUNDARY_CELLS_PER_GROUP, n)
            stream.write(_boundary_table(rings(lo, hi), codes, lo))
    finally:
        stream.close()
