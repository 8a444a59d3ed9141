"""Polygons without holes as closed exterior rings: one coordinate array and offsets.

About 1 KB a cell for a cell and its nucleus, against 2.6 KB as shapely objects; polygons
are rebuilt from the coordinates, bit for bit, only for the rows asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

__all__ = ["Rings"]


@dataclass(frozen=True)
class Rings:
    """Closed exterior rings of polygons, one after another.

    Attributes
    ----------
    coords
        ``(n_coords, 2)`` float64 vertices.
    start
        ``(n + 1,)`` offsets: polygon ``i`` is ``coords[start[i]:start[i + 1]]``.
    """

    coords: np.ndarray
    start: np.ndarray

    def __len__(self) -> int:
        return len(self.start) - 1

    @classmethod
    def from_polygons(cls, polygons: np.ndarray) -> Rings:
        """The exterior rings of ``polygons`` (which must have no holes)."""
        polygons = np.asarray(polygons, dtype=object)
        if np.any(shapely.get_num_interior_rings(polygons) > 0):
            msg = "a cell or nucleus polygon has a hole; the cell store keeps exterior rings only."
            raise ValueError(msg)
        coords, index = shapely.get_coordinates(shapely.get_exterior_ring(polygons), return_index=True)
        start = np.zeros(len(polygons) + 1, dtype=np.int64)
        np.cumsum(np.bincount(index, minlength=len(polygons)), out=start[1:])
        return cls(coords, start)

    @classmethod
    def concat(cls, parts: list[Rings]) -> Rings:
        """The rings of several parts, in order."""
        if not parts:
            return cls(np.zeros((0, 2)), np.zeros(1, dtype=np.int64))
        sizes = np.cumsum([0] + [len(p.coords) for p in parts[:-1]])
        start = np.concatenate([[0]] + [p.start[1:] + size for p, size in zip(parts, sizes, strict=True)])
        return cls(np.concatenate([p.coords for p in parts]), start.astype(np.int64))

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rings of ``rows`` alone: their vertices and ``(len(rows) + 1,)`` offsets."""
        rows = np.asarray(rows, dtype=np.int64)
        lo, counts = self.start[rows], np.diff(self.start)[rows]
        start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        index = np.arange(int(start[-1])) + np.repeat(lo - start[:-1], counts)
        return self.coords[index], start

    def polygons(self, rows: np.ndarray) -> np.ndarray:
        """Shapely polygons of ``rows``, from the stored coordinates."""
        coords, start = self.gather(rows)
        counts = np.diff(start)
        full = counts > 0
        out = np.empty(len(counts), dtype=object)
        if full.any():
            ring = np.repeat(np.arange(int(full.sum())), counts[full])
            out[full] = shapely.polygons(shapely.linearrings(coords, indices=ring))
        out[~full] = shapely.Polygon()
        return out

    def bounds(self) -> np.ndarray:
        """``(n, 4)`` bounding boxes (``xmin, ymin, xmax, ymax``)."""
        out = np.full((len(self), 4), np.nan)
        full = np.flatnonzero(np.diff(self.start) > 0)
        if len(full):
            first = self.start[full]
            for axis in range(2):
                out[full, axis] = np.minimum.reduceat(self.coords[:, axis], first)
                out[full, axis + 2] = np.maximum.reduceat(self.coords[:, axis], first)
        return out
