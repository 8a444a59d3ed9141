"""The cells of a :class:`~STpuppeteer.fit.reference.Reference`: ids, polygons, centroids, areas, types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
import shapely

from STpuppeteer.fit import read_names as rn
from STpuppeteer.fit.read_shapes import as_polygons, polygon_table

__all__ = ["CellTable", "celltype_column", "fill_cells", "types_by_cell"]


class CellTable(NamedTuple):
    """A ``cells`` argument, parsed: ids, the columns it gave (µm), and polygons (``None`` if it had none)."""

    ids: pd.Index
    frame: pd.DataFrame
    cell_polygons: np.ndarray | None
    nucleus_polygons: np.ndarray | None

    @classmethod
    def parse(cls, cells: pd.DataFrame, *, scale: float = 1.0) -> CellTable:
        """Read ``cells``: a cell id column, optional polygons (geometries or WKB), centroids and areas.

        Parameters
        ----------
        cells
            One row per cell; the column names :mod:`~STpuppeteer.fit.read_names` lists.
        scale
            µm per unit of its coordinates (polygons, centroids; areas by its square).
        """
        if not isinstance(cells, pd.DataFrame):
            msg = f"cells={type(cells).__name__} is not allowed; give a DataFrame with one row per cell, or None."
            raise TypeError(msg)
        id_name = rn.pick_column(cells.columns, rn.CELL_ID_COLUMNS)
        if id_name is None:
            msg = (f"cells has no cell id column: looked for {[str(c) for c in rn.CELL_ID_COLUMNS]}; its columns are "
                   f"{[str(c) for c in cells.columns]}.")
            raise ValueError(msg)
        ids = rn.cell_id_strings(cells[id_name], column=id_name)
        if ids.isna().any() or ids.duplicated().any():
            bad = cells[id_name].iloc[int(np.flatnonzero((ids.isna() | ids.duplicated()).to_numpy())[0])]
            msg = (f"cells[{id_name!r}] holds {bad!r} missing or more than once; each row must be one cell with its "
                   "own id.")
            raise ValueError(msg)
        polygons = {}
        for key, candidates in (("cell", rn.CELL_POLYGON_COLUMNS), ("nucleus", rn.NUCLEUS_POLYGON_COLUMNS)):
            name = rn.pick_column(cells.columns, candidates)
            polygons[key] = None if name is None else as_polygons(cells[name], name=name)
            if polygons[key] is not None and scale != 1.0:
                polygons[key] = shapely.transform(polygons[key], lambda xy: xy * scale)
        frame = pd.DataFrame(index=pd.Index(ids.to_numpy(dtype=object), name="cell_id"))
        for column, candidates, power in (("x", rn.CELL_X_COLUMNS, 1), ("y", rn.CELL_Y_COLUMNS, 1),
                                          ("cell_area", rn.CELL_AREA_COLUMNS, 2),
                                          ("nucleus_area", rn.NUCLEUS_AREA_COLUMNS, 2)):
            name = rn.pick_column(cells.columns, candidates)
            if name is not None:
                values = pd.to_numeric(cells[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                frame[column] = values * scale**power
        return cls(frame.index, frame, polygons["cell"], polygons["nucleus"])


def fill_cells(
    cells: pd.DataFrame,
    *,
    cell_polygons: np.ndarray | None,
    nucleus_polygons: np.ndarray | None,
    molecules: pd.DataFrame | None,
) -> tuple[pd.DataFrame, list[str]]:
    """Centroids and areas the cells lack, from their polygons, else (centroids) their molecules' mean.

    Columns the input gave are kept; a polygon's measure fills only where a value is missing.
    """
    cells = cells.copy()
    notes: list[str] = []
    measured = polygon_table(cell_polygons, nucleus_polygons)
    measured.index = cells.index
    for column in measured.columns:
        have = cells[column] if column in cells.columns else pd.Series(np.nan, index=cells.index)
        cells[column] = have.fillna(measured[column])
    if {"x", "y"} - set(cells.columns) or cells[["x", "y"]].isna().any(axis=None):
        if molecules is not None and molecules["cell_id"].notna().any():
            mean = molecules.dropna(subset=["cell_id"]).groupby("cell_id", observed=True)[["x", "y"]].mean()
            mean = mean.reindex(cells.index)
            for axis in ("x", "y"):
                cells[axis] = (cells[axis] if axis in cells.columns else mean[axis]).fillna(mean[axis])
            notes.append("cell centroids without a polygon or a centroid column are the mean of their molecules.")
    if nucleus_polygons is not None and (missing := sum(p is None for p in nucleus_polygons)):
        notes.append(f"{missing} of {len(cells)} cells have no nucleus polygon (nucleus_area NaN).")
    if "cell_area" not in cells.columns:
        notes.append("cell areas unknown: the input has no cell polygons and no cell_area column.")
    return cells, notes


def celltype_column(values: pd.Series | np.ndarray) -> pd.Categorical:
    """Cell types as a categorical of strings (missing stays missing)."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.cat.rename_categories(series.cat.categories.astype(str))
        return pd.Categorical(series.cat.remove_unused_categories())
    return pd.Categorical(series.astype("string").astype(object).where(series.notna(), None))


def types_by_cell(
    celltypes: Mapping[object, object] | pd.Series | str,
    cell_ids: pd.Index,
    *,
    molecules: pd.DataFrame | None = None,
    raw_molecules: pd.DataFrame | None = None,
) -> tuple[pd.Categorical, list[str]]:
    """Each cell's type from a mapping cell id → type, or from a column of the molecule table.

    A molecule column gives each cell the type most of its molecules carry (a cell whose
    molecules disagree is noted).
    """
    notes: list[str] = []
    if isinstance(celltypes, str):
        if raw_molecules is None or celltypes not in raw_molecules.columns:
            columns = [] if raw_molecules is None else [str(c) for c in raw_molecules.columns]
            msg = (f"celltypes={celltypes!r} is not a column of the molecule table; allowed are a mapping cell id → "
                   f"type, or one of its columns {columns}.")
            raise ValueError(msg)
        pairs = pd.DataFrame({"cell_id": molecules["cell_id"], "type": raw_molecules[celltypes].to_numpy()}).dropna()
        tally = pairs.groupby(["cell_id", "type"], observed=True).size().reset_index(name="n")
        tally = tally.sort_values(["cell_id", "n"], ascending=[True, False], kind="stable")
        mixed = int(tally["cell_id"].duplicated().sum())
        if mixed:
            notes.append(f"{mixed} cell(s) hold molecules of several {celltypes!r} values; each took its most common.")
        mapping = tally.drop_duplicates("cell_id").set_index("cell_id")["type"]
    elif isinstance(celltypes, Mapping | pd.Series):
        mapping = pd.Series(celltypes) if isinstance(celltypes, pd.Series) else pd.Series(dict(celltypes))
        mapping.index = pd.Index(rn.cell_id_strings(mapping.index.to_series()).to_numpy(dtype=object))
        mapping = mapping[mapping.index.notna() & ~mapping.index.duplicated()]
    else:
        msg = (f"celltypes={type(celltypes).__name__} is not allowed; give a mapping or Series cell id → type, or "
               "the name of a molecule column.")
        raise TypeError(msg)
    types = mapping.reindex(cell_ids)
    if types.notna().sum() == 0:
        msg = (f"celltypes names no cell of the reference: its ids look like {list(mapping.index[:3])}, the cells' "
               f"like {list(cell_ids[:3])}.")
        raise ValueError(msg)
    if (untyped := int(types.isna().sum())):
        notes.append(f"{untyped} of {len(cell_ids)} cells have no type in celltypes.")
    return celltype_column(types.to_numpy()), notes
