"""Join an instrument's cells to the truth: each platform's cell id mapped to the true ``cell_id``.

The truth keys cells by an integer ``cell_id``; the instrument files key them by their own ids:

- Xenium: the string ``cell_id`` (``aaaaaaab-1``, :mod:`.cell_ids`), a function of ``cell_id``;
- MERSCOPE: the integer ``EntityID``, which is ``cell_id`` itself;
- CosMx: the string ``cell`` (``c_1_<fov>_<cell_ID>``); a true cell crossing a field-of-view
  border is one instrument cell per FOV, so only the table ``instrument_cells.parquet`` maps them.

The truth's cells table carries the first two next to ``cell_id`` (:data:`PLATFORM_ID_COLUMNS`);
:func:`truth_cell_id` maps any platform's ids to ``cell_id``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from STpuppeteer.io._cosmx_constants import CosmxCellColumns
from STpuppeteer.io.cell_ids import decode_cell_ids, encode_cell_ids

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["PLATFORMS", "PLATFORM_ID_COLUMNS", "Platform", "platform_id_columns", "truth_cell_id"]

Platform = Literal["xenium", "merscope", "cosmx"]
PLATFORMS: tuple[str, ...] = ("xenium", "merscope", "cosmx")
XENIUM_CELL_ID = "xenium_cell_id"
MERSCOPE_CELL_ID = "merscope_cell_id"
# Columns of the truth's cells derived from cell_id: each platform's id where it is one per true cell.
PLATFORM_ID_COLUMNS = (XENIUM_CELL_ID, MERSCOPE_CELL_ID)
NO_CELL = -1
_NO_COSMX_CELL = "0"  # the tx file's ``cell`` of a molecule in no cell


def platform_id_columns(cell_ids: Iterable[int]) -> dict[str, np.ndarray]:
    """The truth's platform id columns for these true cells (:data:`PLATFORM_ID_COLUMNS`).

    Examples
    --------
    >>> {k: v.tolist() for k, v in platform_id_columns([0, 17]).items()}
    {'xenium_cell_id': ['aaaaaaaa-1', 'aaaaaabb-1'], 'merscope_cell_id': [0, 17]}
    """
    ids = np.asarray(cell_ids, dtype=np.int64)
    return {XENIUM_CELL_ID: encode_cell_ids(ids), MERSCOPE_CELL_ID: ids.copy()}


def _cosmx_truth_ids(ids: np.ndarray, instrument_cells: pd.DataFrame | None) -> np.ndarray:
    name = str(CosmxCellColumns.CELL)
    if instrument_cells is None or name not in instrument_cells or "cell_id" not in instrument_cells:
        msg = (
            f"platform='cosmx' needs instrument_cells with columns {name!r} and 'cell_id' "
            "(read_ground_truth(<the cosmx bundle>)['instrument_cells']); got "
            f"{None if instrument_cells is None else list(instrument_cells.columns)}."
        )
        raise ValueError(msg)
    names = ids.astype(str)
    mapping = pd.Series(instrument_cells["cell_id"].to_numpy(np.int64), index=instrument_cells[name].astype(str))
    out = mapping.reindex(names).to_numpy()
    missing = pd.isna(out)
    none = (names == _NO_COSMX_CELL) | np.char.endswith(names.astype("U"), "_0")  # cell_ID 0: no cell
    if (missing & ~none).any():
        msg = (
            f"ids holds {names[missing & ~none][0]!r}, a CosMx cell the instrument_cells table does not have; "
            f"allowed are its {name!r} values (c_<slide>_<fov>_<cell_ID>) or cell_ID 0 for no cell."
        )
        raise ValueError(msg)
    return np.where(missing, NO_CELL, out).astype(np.int64)


def truth_cell_id(
    ids: Iterable[object],
    *,
    platform: Platform,
    instrument_cells: pd.DataFrame | None = None,
) -> np.ndarray:
    """Map a platform's cell ids, as its files write them, to the truth's integer ``cell_id``.

    Parameters
    ----------
    ids
        Cell ids from the instrument's files (or from the ``spatialdata_io`` reader's table):

        - ``"xenium"``: ``cell_id`` of ``cells.parquet`` / ``transcripts.parquet``
          (``"aaaaaaab-1"``; ``"UNASSIGNED"`` for no cell);
        - ``"merscope"``: ``EntityID`` of ``cell_metadata.csv``, ``cell`` of ``cell_by_gene.csv``,
          ``cell_id`` of ``detected_transcripts.csv`` (``-1``: no cell); integers or their strings;
        - ``"cosmx"``: ``cell`` of the metadata and tx files (``"c_1_3_12"``: slide 1, FOV 3,
          ``cell_ID`` 12; ``"0"`` or ``cell_ID`` 0 is no cell).
    platform
        Which platform wrote ``ids``.
    instrument_cells
        For ``"cosmx"`` only: the bundle's ``ground_truth/instrument_cells.parquet``
        (``read_ground_truth(bundle)["instrument_cells"]``), which maps each instrument cell
        (a true cell cut at a FOV border is several) to its true ``cell_id``.

    Returns
    -------
    ``int64`` true ``cell_id`` per id, ``-1`` where the id means "no cell". Several CosMx
    cells may map to one true cell.

    Examples
    --------
    >>> truth_cell_id(["aaaaaaab-1", "UNASSIGNED"], platform="xenium").tolist()
    [1, -1]
    >>> truth_cell_id(["7", "-1"], platform="merscope").tolist()
    [7, -1]
    >>> pieces = pd.DataFrame({"cell": ["c_1_1_1", "c_1_2_1"], "cell_id": [4, 4]})
    >>> truth_cell_id(["c_1_2_1", "c_1_1_0"], platform="cosmx", instrument_cells=pieces).tolist()
    [4, -1]
    """
    values = np.asarray(list(ids) if not isinstance(ids, np.ndarray | pd.Series | pd.Index) else ids)
    if platform == "xenium":
        return decode_cell_ids(values.astype(str))
    if platform == "merscope":
        out = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy()
        bad = pd.isna(out) | (out < NO_CELL) | (out != np.round(out))
        if bad.any():
            msg = f"ids holds {values[bad][0]!r}; allowed MERSCOPE ids are integers >= 0, or -1 for no cell."
            raise ValueError(msg)
        return out.astype(np.int64)
    if platform == "cosmx":
        return _cosmx_truth_ids(values, instrument_cells)
    msg = f"platform={platform!r} is not allowed; allowed are {', '.join(map(repr, PLATFORMS))}."
    raise ValueError(msg)


JOIN_README = """
## Joining your results to the truth

These tables key cells by the integer `cell_id`; the instrument files key them by their own
ids. `STpuppeteer.io.truth_cell_id(ids, platform=...)` maps those to `cell_id` (`-1`: no cell):

- **Xenium**: `cell_id` of `cells.parquet` and `transcripts.parquet` (`aaaaaaab-1`; `UNASSIGNED`:
  none), `obs["cell_id"]` of `spatialdata_io.xenium`'s table; in `{cells}`: `xenium_cell_id`.
- **MERSCOPE**: `EntityID` of `cell_metadata.csv`, `cell` of `cell_by_gene.csv`, `cell_id` of
  `detected_transcripts.csv` (`-1`: none), `obs["EntityID"]` of `spatialdata_io.merscope`'s
  table; in `{cells}`: `merscope_cell_id` (equal to `cell_id`).
- **CosMx**: `cell` of `*_metadata_file.csv` and `*_tx_file.csv` (`c_1_<fov>_<cell_ID>`;
  `"0"`: none), `obs["cell"]` of `spatialdata_io.cosmx`'s table; the CosMx bundle's
  `ground_truth/{instrument_cells}` maps `cell` to `cell_id`.

A true cell crossing a CosMx field-of-view border is one CosMx cell per FOV, so several CosMx
cells may map to one true cell. With `run/` the folder holding this `ground_truth/`:

```python
import pandas as pd
from STpuppeteer.io import read_ground_truth, truth_cell_id

cells = read_ground_truth("run")["cell_gdf"]
# Xenium (or merge on the column: left_on="cell_id", right_on="xenium_cell_id")
xe = pd.read_parquet("run/xenium/cells.parquet")
xe["true_cell_id"] = truth_cell_id(xe["cell_id"], platform="xenium")
# MERSCOPE
me = pd.read_csv("run/merscope/cell_metadata.csv")
me["true_cell_id"] = truth_cell_id(me["EntityID"], platform="merscope")
# CosMx: the mapping is in the CosMx bundle's own ground_truth/
pieces = read_ground_truth("run/cosmx")["instrument_cells"]
cx = pd.read_csv("run/cosmx/STpuppeteer_metadata_file.csv")
cx["true_cell_id"] = truth_cell_id(cx["cell"], platform="cosmx", instrument_cells=pieces)
joined = cx.merge(cells, left_on="true_cell_id", right_on="cell_id")
```
"""
