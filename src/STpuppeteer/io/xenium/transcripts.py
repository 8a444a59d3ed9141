"""Rows of ``transcripts.parquet``: what the instrument reports of each molecule."""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
import pyarrow as pa

from STpuppeteer.geometry.nearest_nucleus import NearestNucleus
from STpuppeteer.io.cell_ids import UNASSIGNED
from STpuppeteer.io.observed import feature_codes
from STpuppeteer.io.xenium import _constants as xc

_T = xc.XeniumTranscriptColumns

__all__ = ["transcripts_table"]



def _fov_codes(x: np.ndarray, y: np.ndarray, *, fov_size: float) -> tuple[np.ndarray, np.ndarray]:
    """The names of the fields of view in the positions' bounding box, and each position's index among them."""
    col = np.floor(x / fov_size).astype(np.int64)
    row = np.floor(y / fov_size).astype(np.int64)
    col0, row0 = int(col.min(initial=0)), int(row.min(initial=0))
    span = int(col.max(initial=0)) - col0 + 1
    n_rows = int(row.max(initial=0)) - row0 + 1
    index = (row - row0) * span + (col - col0)
    letters = string.ascii_uppercase

    def _row_name(r: int) -> str:
        r = abs(r)
        name = letters[r % 26]
        while r >= 26:
            r = r // 26 - 1
            name = letters[r % 26] + name
        return name

    # Every field of the box is named (a few thousand at most for a whole slide), so no sort
    # of the positions is needed to find those that occur; only tiny fields need one.
    keys = np.arange(n_rows * span)
    if len(keys) > max(len(x), 4096):
        keys, index = np.unique(index, return_inverse=True)
    names = np.array([f"{_row_name(row0 + int(k) // span)}{col0 + int(k) % span + 1}" for k in keys], dtype=object)
    return names, index.ravel()


def _strings(values: np.ndarray | pa.Array, index: np.ndarray) -> pa.DictionaryArray:
    """``values[index]`` as an Arrow dictionary of the values that occur (no per-row strings).

    Parquet writes a dictionary array's indices and dictionary as they are, where a plain
    string array would be hashed value by value; the dictionary holds only the values used,
    so a block's cell ids do not carry every cell of the slide. Its values are distinct
    (repeated ones, e.g. every gene's codeword category, are merged in order of first
    appearance): a dictionary with repeats made the Parquet writer's bytes vary between
    processes.
    """
    if not isinstance(values, pa.Array):
        values = pa.array(np.asarray(values, dtype=object), type=pa.string())
    used = np.zeros(len(values), dtype=bool)
    used[index] = True
    codes = np.cumsum(used, dtype=np.int32) - 1
    distinct = values.take(pa.array(np.flatnonzero(used))).dictionary_encode()
    remap = distinct.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(remap[codes[index]]), distinct.dictionary)


def transcripts_table(
    trs: pd.DataFrame,
    position: np.ndarray,
    cell_codes: np.ndarray | pa.Array,
    features: pd.DataFrame,
    *,
    nearest: NearestNucleus,
    fov_size: float,
) -> pa.Table:
    """Rows of ``transcripts.parquet`` for some molecules of ``trs_df``.

    Parameters
    ----------
    trs
        Molecules (any contiguous rows of ``trs_df``).
    position
        Row in ``cell_gdf`` of each molecule's landed cell (-1: none).
    cell_codes
        Xenium cell id of every row of ``cell_gdf`` (an Arrow string array saves converting
        them on every call).
    features
        The feature table (:func:`xenium_features`).
    nearest
        The nearest-nucleus lookup.
    fov_size
        Side of a field of view, µm.

    Returns
    -------
    The Arrow table, Xenium's columns in Xenium's order; its string columns are Arrow
    dictionaries (write it with ``store_schema=False`` so that they read back as strings).
    """
    x = trs["x"].to_numpy(dtype=np.float64)
    y = trs["y"].to_numpy(dtype=np.float64)
    if not isinstance(cell_codes, pa.Array):
        cell_codes = pa.array(np.asarray(cell_codes, dtype=object), type=pa.string())
    cell_names = pa.concat_arrays([cell_codes, pa.array([UNASSIGNED], type=pa.string())])
    distance = nearest.distance(x, y, position)
    feature_index = feature_codes(trs, features["feature_name"])
    fov_names, fov_index = _fov_codes(x, y, fov_size=fov_size)
    return pa.table(
        {
            _T.TRANSCRIPT_ID: pa.array(trs["transcript_id"].to_numpy().astype(np.uint64)),
            _T.CELL_ID: _strings(cell_names, np.where(position < 0, len(cell_codes), position)),
            # what the image shows: the detected position lies in a nucleus (the truth's flag
            # describes the molecule before localisation jitter)
            _T.OVERLAPS_NUCLEUS: pa.array((distance == 0).astype(np.uint8)),
            _T.FEATURE_NAME: _strings(features["feature_name"].to_numpy(), feature_index),
            _T.X: pa.array(x.astype(np.float32)),
            _T.Y: pa.array(y.astype(np.float32)),
            _T.Z: pa.array(trs["z"].to_numpy().astype(np.float32)),
            _T.QV: pa.array(trs["qv"].to_numpy().astype(np.float32)),
            _T.FOV_NAME: _strings(fov_names, fov_index),
            _T.NUCLEUS_DISTANCE: pa.array(distance.astype(np.float32)),
            _T.CODEWORD_INDEX: pa.array(feature_index.astype(np.int32)),
            _T.CODEWORD_CATEGORY: _strings(features["codeword_category"].to_numpy(), feature_index),
            _T.IS_GENE: pa.array(features["is_gene"].to_numpy()[feature_index]),
        }
    )
