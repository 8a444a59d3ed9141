"""Xenium's cell id strings: eight letters ``a``–``p`` and a dataset suffix, e.g. ``aaaaaaab-1``.

Xenium stores a cell id as a ``uint32`` prefix and a dataset suffix; the prefix is written
as 8 hexadecimal digits with the digits 0–f shifted to the letters a–p (see the XOA "cell
ID" documentation and ``spatialdata_io.readers.xenium.cell_id_str_from_prefix_suffix_uint32``).
Here the prefix is the simulated integer ``cell_id``, so the mapping is exact both ways.
Molecules outside every cell get :data:`UNASSIGNED`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DATASET_SUFFIX", "UNASSIGNED", "decode_cell_ids", "encode_cell_ids"]

UNASSIGNED = "UNASSIGNED"
DATASET_SUFFIX = 1

_SHIFTS = np.array([28, 24, 20, 16, 12, 8, 4, 0], dtype=np.uint64)
_MAX_ID = 2**32 - 1


def encode_cell_ids(cell_ids: np.ndarray, *, suffix: int = DATASET_SUFFIX) -> np.ndarray:
    """Integer cell ids to Xenium strings; ``-1`` (no cell) becomes ``"UNASSIGNED"``.

    Parameters
    ----------
    cell_ids
        Integer ids in ``[0, 2**32 - 1]``, or ``-1`` for "no cell".
    suffix
        The dataset suffix after the dash.

    Returns
    -------
    An array of Python strings (dtype ``object``), one per id.

    Examples
    --------
    >>> encode_cell_ids(np.array([0, 1, 255, -1])).tolist()
    ['aaaaaaaa-1', 'aaaaaaab-1', 'aaaaaapp-1', 'UNASSIGNED']
    """
    ids = np.asarray(cell_ids, dtype=np.int64)
    bad = (ids < -1) | (ids > _MAX_ID)
    if bad.any():
        msg = f"cell_ids contains {ids[bad][0]}; allowed are integers in [0, {_MAX_ID}] or -1 for no cell."
        raise ValueError(msg)
    assigned = ids >= 0
    nibbles = (ids[assigned].astype(np.uint64)[:, None] >> _SHIFTS) & np.uint64(0xF)
    letters = (nibbles + ord("a")).astype(np.uint8)
    prefix = letters.view("S8").ravel().astype("U8")
    out = np.full(ids.shape, UNASSIGNED, dtype=object)
    out[assigned] = np.char.add(prefix, f"-{suffix}")
    return out


def decode_cell_ids(cell_id_str: np.ndarray) -> np.ndarray:
    """Xenium strings back to integer ids; ``"UNASSIGNED"`` becomes ``-1``.

    Parameters
    ----------
    cell_id_str
        Strings such as ``"aaaaaaab-1"`` or ``"UNASSIGNED"``.

    Returns
    -------
    ``int64`` ids.

    Examples
    --------
    >>> decode_cell_ids(np.array(["aaaaaaab-1", "UNASSIGNED", "aaaaaapp-1"])).tolist()
    [1, -1, 255]
    """
    strs = np.asarray(cell_id_str, dtype=str)
    out = np.full(strs.shape, -1, dtype=np.int64)
    assigned = strs != UNASSIGNED
    if not assigned.any():
        return out
    # The prefix is always the first 8 characters: truncating the dtype slices them all at once.
    prefix = strs[assigned].astype("U8")
    codes = prefix.astype("S8").view(np.uint8).reshape(-1, 8).astype(np.int64) - ord("a")
    if (codes < 0).any() or (codes > 15).any() or np.char.str_len(strs[assigned]).min() < 10:
        msg = "cell_id_str holds a malformed id; allowed are 8 letters a-p, a dash and a suffix, or 'UNASSIGNED'."
        raise ValueError(msg)
    out[assigned] = (codes << _SHIFTS.astype(np.int64)).sum(axis=1)
    return out
