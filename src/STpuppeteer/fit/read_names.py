"""The column names the readers of :mod:`STpuppeteer.fit.read` accept, and what "no cell" looks like.

Every name a reader looks for is here, in the order it prefers them; the instrument formats'
own names come from their modules in :mod:`STpuppeteer.io` (one place per format), the
names of ``spatialdata_io``'s elements from its readers (0.7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from STpuppeteer.io._cosmx_constants import CosmxCellColumns, CosmxTranscriptColumns
from STpuppeteer.io._merscope_constants import MerscopeCellColumns, MerscopeTranscriptColumns
from STpuppeteer.io.cell_ids import UNASSIGNED
from STpuppeteer.io.xenium._constants import XeniumCellColumns, XeniumTranscriptColumns

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "CELL_AREA_COLUMNS",
    "CELL_COLUMNS",
    "CELL_ID_COLUMNS",
    "CELL_POLYGON_COLUMNS",
    "CELL_X_COLUMNS",
    "CELL_Y_COLUMNS",
    "COSMX_AREA_PX",
    "COSMX_CELL_ID",
    "COSMX_COMPARTMENT",
    "COSMX_FOV",
    "COSMX_NUCLEAR",
    "GENE_COLUMNS",
    "MAX_CELL_AREA_UM2",
    "MAX_NUCLEUS_AREA_UM2",
    "MERSCOPE_Z_PLANE",
    "NO_CELL_STRINGS",
    "NUCLEUS_AREA_COLUMNS",
    "NUCLEUS_POLYGON_COLUMNS",
    "OVERLAPS_COLUMN",
    "QV_COLUMN",
    "X_COLUMNS",
    "Y_COLUMNS",
    "ZERO_IS_NO_CELL",
    "Z_UM_COLUMNS",
    "cell_id_strings",
    "pick_column",
    "unit_notes",
]



def _names(*names: str) -> tuple[str, ...]:
    """Plain strings (the io modules' names are ``StrEnum`` members)."""
    return tuple(str(n) for n in names)


# Molecule tables. MERSCOPE's plain x, y are pixels within a field of view, so its global_x
# comes first; CosMx's *_global_px are pixels (converted, see read_molecules).
X_COLUMNS = _names(MerscopeTranscriptColumns.GLOBAL_X, XeniumTranscriptColumns.X, CosmxTranscriptColumns.X_GLOBAL, "x")
Y_COLUMNS = _names(MerscopeTranscriptColumns.GLOBAL_Y, XeniumTranscriptColumns.Y, CosmxTranscriptColumns.Y_GLOBAL, "y")
GENE_COLUMNS = _names("gene", XeniumTranscriptColumns.FEATURE_NAME, CosmxTranscriptColumns.TARGET)
# CosMx's tx file has both: "cell" (c_1_{fov}_{cell_ID}, unique) before "cell_ID" (per FOV).
CELL_COLUMNS = _names(XeniumTranscriptColumns.CELL_ID, CosmxTranscriptColumns.CELL)
Z_UM_COLUMNS = _names(XeniumTranscriptColumns.Z, "z")  # µm (Xenium, Baysor, STpuppeteer's truth)
MERSCOPE_Z_PLANE = str(MerscopeTranscriptColumns.GLOBAL_Z)  # a focal-plane index, not µm
QV_COLUMN = str(XeniumTranscriptColumns.QV)
OVERLAPS_COLUMN = str(XeniumTranscriptColumns.OVERLAPS_NUCLEUS)
COSMX_COMPARTMENT = str(CosmxTranscriptColumns.CELL_COMP)
COSMX_NUCLEAR = "Nuclear"
COSMX_CELL_ID, COSMX_FOV = _names(CosmxTranscriptColumns.CELL_ID, CosmxTranscriptColumns.FOV)  # cell per FOV

# Cell tables (a `cells` argument, AnnData obs).
CELL_ID_COLUMNS = _names(XeniumCellColumns.CELL_ID, "cell", MerscopeCellColumns.ENTITY_ID)
CELL_X_COLUMNS = _names("x", XeniumCellColumns.X, MerscopeCellColumns.CENTER_X)
CELL_Y_COLUMNS = _names("y", XeniumCellColumns.Y, MerscopeCellColumns.CENTER_Y)
CELL_AREA_COLUMNS = _names(XeniumCellColumns.CELL_AREA, "area")
NUCLEUS_AREA_COLUMNS = _names(XeniumCellColumns.NUCLEUS_AREA)
CELL_POLYGON_COLUMNS = ("geometry", "cell_wkb", "cell_polygon", "cell_boundary", "Geometry")
NUCLEUS_POLYGON_COLUMNS = ("nucleus", "nucleus_wkb", "nucleus_polygon", "nucleus_boundary")
COSMX_AREA_PX = str(CosmxCellColumns.AREA)  # pixels²

# "No cell" in a molecule's cell id, in every column: null, "", Xenium's "UNASSIGNED", and
# negative integers (MERSCOPE's and STpuppeteer's -1, Xenium 1.x's -1). The string forms of
# null that a CSV round trip leaves behind count too.
NO_CELL_STRINGS = frozenset({"", UNASSIGNED, "nan", "NaN", "None", "<NA>"})
# Only in columns whose 0 means noise: Baysor's "cell" (0 before v0.6) and CosMx's "cell" ("0")
# and "cell_ID" (0). Elsewhere 0 is a real cell (STpuppeteer's cell_id starts at 0).
ZERO_IS_NO_CELL = frozenset(_names(CosmxTranscriptColumns.CELL, CosmxTranscriptColumns.CELL_ID))

# Areas that only pixels explain (a nucleus of 2,000 µm² is 50 µm across).
MAX_NUCLEUS_AREA_UM2 = 2_000.0
MAX_CELL_AREA_UM2 = 10_000.0


def pick_column(columns: Iterable[object], candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` among ``columns``, or ``None``."""
    present = {str(c) for c in columns}
    return next((str(c) for c in candidates if str(c) in present), None)


def cell_id_strings(values: pd.Series | np.ndarray, *, column: str = "cell_id") -> pd.Series:
    """Cell ids as pandas strings, ``<NA>`` where the value means "no cell" (see :data:`NO_CELL_STRINGS`).

    Numbers are written as integers (``3.0`` from a CSV column with gaps becomes ``"3"``);
    bytes are decoded as UTF-8. ``column`` is the source column's name: 0 means no cell only
    in :data:`ZERO_IS_NO_CELL`. The rules run on the distinct values, not on every molecule.
    """
    codes, uniques = pd.factorize(pd.Series(values).reset_index(drop=True))
    unique = pd.Series(np.asarray(uniques, dtype=object))
    if len(unique) and isinstance(unique.iloc[0], bytes):  # Xenium 1.x and older Parquet writers store bytes
        unique = unique.map(lambda v: v.decode("utf-8") if isinstance(v, bytes) else v)
    number = pd.to_numeric(unique, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    is_number = np.isfinite(number) & np.array([not isinstance(v, str) for v in unique], dtype=bool)
    text = unique.astype(str).str.strip()
    text[is_number] = number[is_number].astype(np.int64).astype(str)
    no_cell = text.isin(NO_CELL_STRINGS).to_numpy() | (number < 0)
    if column in ZERO_IS_NO_CELL:
        no_cell |= number == 0
    text = pd.Series(text.to_numpy(dtype=object), dtype="string").mask(no_cell, pd.NA)
    out = text.reindex(codes).reset_index(drop=True)  # code -1 (a null) is not in the index: <NA>
    return out.astype("string")


def unit_notes(cells: pd.DataFrame, *, what: str) -> list[str]:
    """Warnings (as notes) when the cells' areas are only plausible in pixels, not µm."""
    notes = []
    for column, limit in (("nucleus_area", MAX_NUCLEUS_AREA_UM2), ("cell_area", MAX_CELL_AREA_UM2)):
        if column in cells.columns and cells[column].notna().any():
            median = float(np.nanmedian(cells[column].to_numpy(dtype=float)))
            if median > limit:
                notes.append(
                    f"WARNING: the median {column} of {what} is {median:,.0f} µm², more than the {limit:,.0f} µm² "
                    "a cell of any tissue reaches; the coordinates look like pixels, not µm. Pass "
                    "pixel_size_um (µm per pixel) to convert them."
                )
    return notes
