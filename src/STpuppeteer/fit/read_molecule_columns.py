"""A molecule table (Xenium, MERSCOPE, CosMx, Baysor, STpuppeteer's truth) in the shape of ``Reference.molecules``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from STpuppeteer.fit import read_names as rn
from STpuppeteer.fit.reference import is_control_name
from STpuppeteer.io._cosmx_constants import PIXEL_SIZE as COSMX_PIXEL_SIZE
from STpuppeteer.io._cosmx_constants import Z_SLICE_UM
from STpuppeteer.io._merscope_constants import Z_PLANE_SPACING_UM

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["check_pixel_size", "count_by_cell", "molecule_frame", "sorted_ids"]


def check_pixel_size(pixel_size_um: float | None) -> None:
    """Refuse a pixel size that is not a positive finite number."""
    if pixel_size_um is not None and not (isinstance(pixel_size_um, int | float) and math.isfinite(pixel_size_um)
                                          and pixel_size_um > 0):
        msg = f"pixel_size_um={pixel_size_um!r} is not allowed; give µm per pixel (a positive number), or None for µm."
        raise ValueError(msg)


def _required(table: pd.DataFrame, candidates: tuple[str, ...], field: str) -> str:
    name = rn.pick_column(table.columns, candidates)
    if name is None:
        msg = (f"molecules has no {field} column: looked for {[str(c) for c in candidates]}; its columns are "
               f"{[str(c) for c in table.columns]}. Rename the column holding the {field} to one of these.")
        raise ValueError(msg)
    return name


def _numbers(table: pd.DataFrame, name: str) -> np.ndarray:
    values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        msg = (f"molecules[{name!r}] holds {int(bad.sum())} value(s) that are not finite numbers (first at row {row}: "
               f"{table[name].iloc[row]!r}); every molecule needs a position.")
        raise ValueError(msg)
    return values


def _genes(values: pd.Series) -> pd.Categorical:
    """Feature names as a categorical of strings with sorted categories (converted once per name)."""
    genes = pd.Categorical(values)
    names = pd.Series(genes.categories.to_numpy(dtype=object))
    # older Xenium transcripts.parquet stores feature names as bytes
    names = names.map(lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v))
    return pd.Categorical.from_codes(genes.codes, categories=names).reorder_categories(sorted(names))


def _flags(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.fillna(0).astype(bool).to_numpy()
    return values.astype("string").str.strip().str.lower().isin(["true", "1", "yes"]).fillna(False).to_numpy(bool)


def molecule_frame(table: pd.DataFrame, *, pixel_size_um: float | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The columns of :data:`~STpuppeteer.fit.reference.MOLECULE_COLUMNS` from a molecule table.

    Parameters
    ----------
    table
        One row per molecule; the column names :mod:`~STpuppeteer.fit.read_names` lists.
    pixel_size_um
        µm per pixel of ``x``, ``y``, or ``None`` when they are µm. CosMx's ``*_global_px``
        columns are pixels: without it they are converted at CosMx's 0.12028 µm.

    Returns
    -------
    The frame (``cell_id`` all ``<NA>`` when the table has no cell column) and notes.
    """
    if not isinstance(table, pd.DataFrame):
        msg = f"molecules={type(table).__name__} is not allowed; give a pandas DataFrame with one row per molecule."
        raise TypeError(msg)
    if len(table) == 0:
        msg = "molecules is empty (0 rows); a reference needs detected molecules."
        raise ValueError(msg)
    check_pixel_size(pixel_size_um)
    table = table.reset_index(drop=True)
    notes: list[str] = []
    x_name = _required(table, rn.X_COLUMNS, "x")
    y_name = _required(table, rn.Y_COLUMNS, "y")
    gene_name = _required(table, rn.GENE_COLUMNS, "gene")
    cosmx = x_name.endswith("_px")
    scale = pixel_size_um
    if cosmx and scale is None:
        scale = COSMX_PIXEL_SIZE
        notes.append(f"x, y from CosMx's pixel columns {x_name!r}, {y_name!r} at {scale} µm per pixel (CosMx's "
                     "camera); pass pixel_size_um if this instrument's differs.")
    elif scale is not None:
        notes.append(f"x, y converted from pixels at {scale} µm per pixel (pixel_size_um).")
    scale = 1.0 if scale is None else float(scale)
    genes = _genes(table[gene_name])
    if (genes.codes < 0).any():
        row = int(np.flatnonzero(genes.codes < 0)[0])
        msg = f"molecules[{gene_name!r}] is missing at row {row}; every molecule needs a gene (or control) name."
        raise ValueError(msg)
    control_of_code = is_control_name(genes.categories)
    frame = pd.DataFrame({
        "x": _numbers(table, x_name) * scale,
        "y": _numbers(table, y_name) * scale,
        "gene": genes,
        "is_control": control_of_code[genes.codes] if len(control_of_code) else np.zeros(len(genes), bool),
    })
    cell_name = rn.pick_column(table.columns, rn.CELL_COLUMNS)
    if cell_name is None and {rn.COSMX_CELL_ID, rn.COSMX_FOV} <= set(table.columns):
        # CosMx without its "cell" column: cell_ID counts within a FOV; named as spatialdata_io does
        local = rn.cell_id_strings(table[rn.COSMX_CELL_ID], column=rn.COSMX_CELL_ID)
        frame["cell_id"] = (local + "_" + table[rn.COSMX_FOV].astype(str).to_numpy()).astype("string")
        notes.append(f"cell ids '{{{rn.COSMX_CELL_ID}}}_{{{rn.COSMX_FOV}}}' from CosMx's per-FOV cell_ID.")
    elif cell_name is None:
        frame["cell_id"] = pd.Series(pd.NA, index=frame.index, dtype="string")
        notes.append(f"the molecule table has no cell id column (looked for {list(rn.CELL_COLUMNS)}).")
    else:
        frame["cell_id"] = rn.cell_id_strings(table[cell_name], column=cell_name)
    frame = _optional_columns(frame, table, cosmx=cosmx, notes=notes)
    order = ["x", "y", "z", "gene", "cell_id", "is_control", "qv", "overlaps_nucleus"]
    return frame[[c for c in order if c in frame.columns]], notes


def _optional_columns(frame: pd.DataFrame, table: pd.DataFrame, *, cosmx: bool, notes: list[str]) -> pd.DataFrame:
    """``z`` (µm), ``qv`` and ``overlaps_nucleus`` where the table has them."""
    if cosmx and "z" in table.columns:
        frame["z"] = _numbers(table, "z") * Z_SLICE_UM
        notes.append(f"z: CosMx's z-slice index × {Z_SLICE_UM} µm (assumed slice spacing).")
    elif rn.MERSCOPE_Z_PLANE in table.columns:
        frame["z"] = _numbers(table, rn.MERSCOPE_Z_PLANE) * Z_PLANE_SPACING_UM
        notes.append(f"z: MERSCOPE's focal-plane index {rn.MERSCOPE_Z_PLANE!r} × {Z_PLANE_SPACING_UM} µm "
                     "(assumed plane spacing).")
    elif (z_name := rn.pick_column(table.columns, rn.Z_UM_COLUMNS)) is not None:
        frame["z"] = _numbers(table, z_name)
    if rn.QV_COLUMN in table.columns:
        frame["qv"] = pd.to_numeric(table[rn.QV_COLUMN], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if rn.OVERLAPS_COLUMN in table.columns:
        frame["overlaps_nucleus"] = _flags(table[rn.OVERLAPS_COLUMN])
    elif rn.COSMX_COMPARTMENT in table.columns:
        frame["overlaps_nucleus"] = (table[rn.COSMX_COMPARTMENT].astype("string") == rn.COSMX_NUCLEAR).fillna(
            False).to_numpy(bool)
        notes.append(f"overlaps_nucleus: CosMx's {rn.COSMX_COMPARTMENT} == {rn.COSMX_NUCLEAR!r}.")
    return frame


def sorted_ids(ids: np.ndarray | pd.Index) -> pd.Index:
    """Unique cell ids, in numeric order when they are all integers, else in text order."""
    unique = pd.Index(pd.unique(np.asarray(ids, dtype=object))).astype(str)
    as_int = pd.to_numeric(pd.Series(unique), errors="coerce")
    if as_int.notna().all():
        return unique[np.argsort(as_int.to_numpy(), kind="stable")]
    return unique.sort_values()


def count_by_cell(frame: pd.DataFrame, cells: pd.Index, genes: pd.Index, *, keep: np.ndarray) -> sparse.csr_matrix:
    """Molecules per (cell, gene), over the rows ``keep`` whose cell and gene are in ``cells`` and ``genes``."""
    from scipy import sparse

    rows = cells.get_indexer(frame["cell_id"].to_numpy(dtype=object, na_value=None)[keep])
    gene = frame["gene"].astype("category")
    col_of_code = genes.get_indexer(gene.cat.categories.astype(str))
    cols = col_of_code[gene.cat.codes.to_numpy()[keep]]
    cols[gene.cat.codes.to_numpy()[keep] < 0] = -1
    ok = (rows >= 0) & (cols >= 0)
    data = np.ones(int(ok.sum()), dtype=np.int64)
    counts = sparse.csr_matrix((data, (rows[ok], cols[ok])), shape=(len(cells), len(genes)), dtype=np.int64)
    counts.sum_duplicates()
    return counts
