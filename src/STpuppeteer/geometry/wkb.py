"""Well-known binary (WKB) of polygons straight from their ring coordinates.

The streamed writer holds a slide's polygons as coordinate arrays
(:class:`~STpuppeteer.pipeline.cell_store.Rings`); building a shapely object per polygon only to
serialise it again cost more than the rest of writing the ground truth's cell file. A
polygon with one ring is a fixed header and its vertices, so the bytes are laid out here
with numpy, identical to ``shapely.to_wkb`` (little-endian, 2-D) of the same polygon.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["polygon_wkb"]

_POLYGON = 3
_HEADER = 13  # byte order (1), geometry type (4), number of rings (4), number of points (4)
_EMPTY_HEADER = 9  # an empty polygon has no rings and so no point count


def polygon_wkb(coords: np.ndarray, start: np.ndarray) -> pa.BinaryArray:
    """WKB of polygons whose single (closed) rings are ``coords[start[i]:start[i + 1]]``.

    Parameters
    ----------
    coords
        ``(n_coords, 2)`` float64 vertices, ring after ring.
    start
        ``(n + 1,)`` offsets into ``coords``; an empty range is an empty polygon.

    Returns
    -------
    An Arrow binary array of ``n`` WKB polygons.

    Examples
    --------
    >>> import shapely
    >>> ring = shapely.get_coordinates(shapely.box(0, 0, 1, 1).exterior)
    >>> polygon_wkb(ring, np.array([0, 5]))[0].as_py() == shapely.to_wkb(shapely.box(0, 0, 1, 1))
    True
    """
    coords = np.ascontiguousarray(coords, dtype="<f8").reshape(-1, 2)
    start = np.asarray(start, dtype=np.int64)
    n_points = np.diff(start)
    header_size = np.where(n_points > 0, _HEADER, _EMPTY_HEADER)
    size = header_size + 16 * n_points
    offsets = np.zeros(len(n_points) + 1, dtype=np.int64)
    np.cumsum(size, out=offsets[1:])
    header = np.zeros((len(n_points), _HEADER), dtype=np.uint8)
    header[:, 0] = 1  # little-endian
    words = np.column_stack([np.full(len(n_points), _POLYGON), (n_points > 0).astype(np.int64), n_points])
    header[:, 1:] = words.astype("<u4").view(np.uint8).reshape(len(n_points), 12)
    # Every byte that is not a header byte is a coordinate byte, in order.
    is_header = np.zeros(int(offsets[-1]), dtype=bool)
    header_at = np.repeat(offsets[:-1], header_size) + _ranks(header_size)
    is_header[header_at] = True
    body = np.empty(int(offsets[-1]), dtype=np.uint8)
    body[header_at] = header[np.arange(_HEADER) < header_size[:, None]]
    body[~is_header] = coords.view(np.uint8).ravel()
    if offsets[-1] > np.iinfo(np.int32).max:
        msg = f"{len(n_points)} polygons take {offsets[-1]} bytes of WKB: write them in smaller slices."
        raise ValueError(msg)
    return pa.Array.from_buffers(pa.binary(), len(n_points),
                                 [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(body)])


def _ranks(sizes: np.ndarray) -> np.ndarray:
    """``0 … size - 1`` for each size, concatenated."""
    ends = np.cumsum(sizes)
    return np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - sizes, sizes)
