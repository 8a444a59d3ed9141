"""Table helpers the platform writers share (no platform module imports another)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

if TYPE_CHECKING:
    from pathlib import Path

    from STpuppeteer.result import SimulationResult

__all__ = ["tissue_bounds", "write_csv"]

# Decimals of floats in the CSVs: 0.1 nm in µm, 1e-4 px; full repr would double the file size.
_DECIMALS = 4


def write_csv(frame: pd.DataFrame, path: Path, *, index_label: str | None = None) -> None:
    """Write ``frame`` as CSV through Arrow (an order of magnitude faster than pandas' writer).

    Parameters
    ----------
    frame
        The table; floats are rounded to 4 decimals, categoricals written as their values.
    path
        The file.
    index_label
        Write the index first under this name (``""`` for an unnamed column); ``None`` drops it.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            out[name] = column.astype(str)
        elif pd.api.types.is_float_dtype(column.dtype):
            out[name] = column.round(_DECIMALS)
    if index_label is not None:
        out.insert(0, index_label, out.index.to_numpy())
    table = pa.Table.from_pandas(out, preserve_index=False)
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def tissue_bounds(result: SimulationResult) -> tuple[float, float, float, float]:
    """Whole-µm box around every cell and molecule: ``(xmin, ymin, xmax, ymax)``.

    Parameters
    ----------
    result
        The simulation.

    Returns
    -------
    The bounds, rounded outwards to whole µm.
    """
    cxmin, cymin, cxmax, cymax = shapely.total_bounds(np.asarray(result.cell_gdf.geometry.values))
    trs = result.trs_df
    if len(trs):
        cxmin, cxmax = min(cxmin, trs["x"].min()), max(cxmax, trs["x"].max())
        cymin, cymax = min(cymin, trs["y"].min()), max(cymax, trs["y"].max())
    return (
        float(math.floor(cxmin)),
        float(math.floor(cymin)),
        float(math.floor(cxmax) + 1),
        float(math.floor(cymax) + 1),
    )
