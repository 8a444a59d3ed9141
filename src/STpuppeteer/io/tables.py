"""Table helpers the platform writers share (no platform module imports another)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from STpuppeteer.result import SimulationResult

__all__ = [
    "PIXEL_DECIMALS",
    "PLACEHOLDER_FEATURE",
    "UM_DECIMALS",
    "placeholder_molecules",
    "tissue_bounds",
    "with_placeholder_molecule",
    "write_csv",
]

#: Feature of the one row the Xenium and MERSCOPE transcript tables get when a run has no
#: molecule (an unassigned codeword, as the instrument names one that decodes to no gene).
PLACEHOLDER_FEATURE = "UnassignedCodeword_no_molecules"

#: Decimals of µm in the CSVs: 0.01 µm, ten times finer than the instruments' localisation error
#: (0.1–0.5 µm). The instruments print their float32 values with up to seven digits, more than any
#: of them resolves; 2 decimals are the coarsest that keep every position within 5 nm.
UM_DECIMALS = 2
#: Decimals of camera pixels (0.108 µm MERSCOPE, 0.12 µm CosMx): 0.01 pixel, about 1 nm (one
#: decimal, 11–12 nm, would be coarser than :data:`UM_DECIMALS`).
PIXEL_DECIMALS = 2


def write_csv(
    frame: pd.DataFrame,
    path: Path,
    *,
    index_label: str | None = None,
    decimals: int = UM_DECIMALS,
    decimals_by_column: Mapping[str, int] | None = None,
) -> None:
    """Write ``frame`` as CSV through Arrow (an order of magnitude faster than pandas' writer).

    Parameters
    ----------
    frame
        The table; floats are rounded (``decimals``), categoricals written as their values, strings
        unquoted unless one of them needs quotes.
    path
        The file.
    index_label
        Write the index first under this name (``""`` for an unnamed column); ``None`` drops it.
    decimals
        Decimals of every float column (:data:`UM_DECIMALS`: 0.01 µm).
    decimals_by_column
        Decimals of some columns instead of ``decimals`` (e.g. :data:`PIXEL_DECIMALS` for pixels).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    by_column = dict(decimals_by_column or {})
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            # Arrow writes a dictionary column value by value from its few strings, three times
            # faster than turning a million rows into strings first; a missing value becomes "nan".
            if column.isna().any():
                out[name] = column.astype(str)
        elif pd.api.types.is_float_dtype(column.dtype):
            out[name] = column.round(by_column.get(name, decimals))
    if index_label is not None:
        out.insert(0, index_label, out.index.to_numpy())
    table = pa.Table.from_pandas(out, preserve_index=False)
    # Unquoted values, as the instruments write them (2 bytes a string saved); Arrow refuses a value
    # holding a comma, quote or line break unquoted, and then every string is quoted.
    try:
        pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="none"))
    except pa.ArrowInvalid:
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


def with_placeholder_molecule(result: SimulationResult) -> SimulationResult:
    """``result`` itself, or, if it has no molecule, a copy whose ``trs_df`` holds one placeholder row.

    ``spatialdata_io.xenium`` and ``spatialdata_io.merscope`` cannot read a transcript table
    without rows (the one reads its first row to find the strings' encoding, the other infers
    no numeric column from an empty CSV). The placeholder is no molecule: the truth has none, it
    lies at the tissue's corner (0, 0, 0) in no cell, its feature is :data:`PLACEHOLDER_FEATURE`
    (a control, never a gene) and its quality 0, so the cell × gene counts (quality ≥ 20, genes)
    leave it out. Manifests record ``"placeholder_transcript": true``.
    """
    import dataclasses

    if len(result.trs_df):
        return result
    return dataclasses.replace(result, trs_df=placeholder_molecules(result.trs_df))


def placeholder_molecules(template: pd.DataFrame) -> pd.DataFrame:
    """The placeholder row of :func:`with_placeholder_molecule`, with the columns and dtypes of ``template``."""
    trs = template
    values = {
        "transcript_id": 0, "x": 0.0, "y": 0.0, "z": 0.0, "feature_name": PLACEHOLDER_FEATURE, "cell_id": -1,
        "celltype": "none", "origin": "control", "landed_cell_id": -1, "compartment": "extracellular",
        "overlaps_nucleus": False, "qv": 0.0, "true_feature_name": PLACEHOLDER_FEATURE,
    }
    row = pd.DataFrame({c: [values.get(c)] for c in trs.columns})
    for column in trs.columns:
        dtype = trs[column].dtype
        row[column] = row[column].astype("category" if isinstance(dtype, pd.CategoricalDtype) else dtype)
    return row
