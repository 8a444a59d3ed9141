"""A :class:`~STpuppeteer.fit.reference.Reference` from a table of molecules (and optionally of cells)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from STpuppeteer.fit.read_cells import CellTable, celltype_column, fill_cells, types_by_cell
from STpuppeteer.fit.read_molecule_columns import check_pixel_size, count_by_cell, molecule_frame, sorted_ids
from STpuppeteer.fit.read_names import unit_notes
from STpuppeteer.fit.read_shapes import inside_any, region_area
from STpuppeteer.fit.reference import Reference, is_control_name

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["reference_from_molecules"]


def _assign_by_polygon(frame: pd.DataFrame, polygons: np.ndarray, ids: pd.Index) -> pd.Series:
    """The id of the cell polygon holding each molecule (the first, where polygons overlap), ``<NA>`` outside."""
    present = np.flatnonzero([p is not None for p in polygons])
    points = shapely.points(frame["x"].to_numpy(), frame["y"].to_numpy())
    point, hit = shapely.STRtree(polygons[present]).query(points, predicate="intersects")
    first = np.unique(point, return_index=True)[1]
    out = pd.Series(pd.NA, index=frame.index, dtype="string")
    out.iloc[point[first]] = ids.to_numpy()[present[hit[first]]]
    return out


def reference_from_molecules(
    molecules: pd.DataFrame,
    *,
    cells: pd.DataFrame | None = None,
    celltypes: Mapping[object, object] | pd.Series | str | None = None,
    pixel_size_um: float | None = None,
    min_qv: float | None = None,
) -> Reference:
    """Build a :class:`~STpuppeteer.fit.reference.Reference` from a molecule table.

    Parameters
    ----------
    molecules
        One row per detected molecule. Columns, the first present of each list:

        - x, y (required): ``global_x``/``global_y`` (MERSCOPE), ``x_location``/``y_location``
          (Xenium), ``x_global_px``/``y_global_px`` (CosMx, pixels), ``x``/``y`` (Baysor,
          STpuppeteer); µm unless ``pixel_size_um`` is given;
        - gene (required): ``gene`` (MERSCOPE, Baysor), ``feature_name`` (Xenium), ``target`` (CosMx);
        - cell id: ``cell_id`` (Xenium, MERSCOPE, STpuppeteer), ``cell`` (Baysor, CosMx);
        - ``z`` or ``z_location`` (µm; MERSCOPE's ``global_z`` plane index × 1.5 µm, CosMx's
          ``z`` slice index × 0.8 µm), ``qv``, ``overlaps_nucleus`` (or CosMx's ``CellComp``).

        **No cell**: a null, an empty string, ``"UNASSIGNED"`` (Xenium), a negative number
        (``-1``: MERSCOPE, Xenium 1.x, STpuppeteer), and in a ``cell`` or ``cell_ID`` column
        also ``0`` (Baysor's noise, CosMx's unassigned). In ``cell_id`` 0 is a cell.
    cells
        Optional, one row per cell: ``cell_id`` (or ``cell``, ``EntityID``), and any of a cell
        polygon (``geometry``, ``cell_wkb``, ``cell_polygon``, ``cell_boundary``), a nucleus
        polygon (``nucleus``, ``nucleus_wkb``, …), as shapely geometries, WKB bytes or WKT;
        centroids (``x``/``x_centroid``/``center_x``), ``cell_area``, ``nucleus_area`` (a
        Xenium ``cells.parquet`` fits). Polygons give areas and centroids; without them a
        centroid is the mean of the cell's molecules and areas are unknown. Without a cell id
        column in ``molecules``, molecules are assigned to the cell polygon holding them.
    celltypes
        Each cell's type: a mapping or Series cell id → type, or the name of a molecule column
        (each cell takes the value most of its molecules carry).
    pixel_size_um
        µm per pixel of the coordinates of both tables, or ``None`` when they are µm (CosMx's
        ``*_px`` columns are then read at 0.12028 µm per pixel). ``z`` is not scaled.
    min_qv
        Count only molecules with ``qv`` at least this (Xenium's matrix uses 20); ``None``
        counts every molecule. All molecules stay in ``Reference.molecules``.

    Returns
    -------
    The reference. ``counts`` are the molecules of genes (not controls, see
    :func:`~STpuppeteer.fit.reference.is_control_name`) per cell, for molecules with a cell
    id; ``genes`` are the genes seen anywhere, sorted. Cells are those of ``cells``, then any
    other id of ``molecules`` (numeric order when every id is an integer). ``overlaps_nucleus``
    is computed, when missing, from the nucleus polygons (in or on one). ``region_area_um2``
    is the area of the convex hull of all molecules and cell polygons. ``notes`` say what was
    assumed, and warn when the areas look like pixels.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"x": [1.0, 2.0, 9.0], "y": [1.0, 2.0, 9.0], "gene": ["A", "B", "Blank-1"],
    ...                       "cell_id": [0, 0, -1]})
    >>> ref = reference_from_molecules(table)
    >>> ref.genes, ref.counts.toarray().tolist()
    (['A', 'B'], [[1, 1]])
    """
    check_pixel_size(pixel_size_um)
    frame, notes = molecule_frame(molecules, pixel_size_um=pixel_size_um)
    scale = 1.0 if pixel_size_um is None else float(pixel_size_um)
    table = None if cells is None else CellTable.parse(cells, scale=scale)
    if table is not None and frame["cell_id"].isna().all() and table.cell_polygons is not None:
        frame["cell_id"] = _assign_by_polygon(frame, table.cell_polygons, table.ids)
        notes.append("molecules were assigned to the cell polygon holding them (the table has no cell ids).")
    molecule_ids = frame["cell_id"].dropna().to_numpy(dtype=object)
    if table is None and len(molecule_ids) == 0:
        msg = ("molecules: no molecule has a cell id, so there are no cells to count in; give a cell id column "
               "(cell_id or cell) or cells with polygons.")
        raise ValueError(msg)
    ids = table.ids if table is not None else pd.Index([], dtype=object)
    extra = sorted_ids(molecule_ids).difference(ids, sort=False) if len(molecule_ids) else pd.Index([], dtype=object)
    if table is not None and len(extra):
        notes.append(f"{len(extra)} cell id(s) of the molecules are not in cells (e.g. {extra[0]!r}); kept, without "
                     "polygons.")
    ids = pd.Index(np.r_[ids.to_numpy(dtype=object), extra.to_numpy(dtype=object)], name="cell_id")
    polygons = {"cell": None, "nucleus": None}
    if table is not None:
        for key in polygons:
            given = getattr(table, f"{key}_polygons")
            if given is not None:
                polygons[key] = np.r_[given, np.full(len(extra), None, dtype=object)]
    names = frame["gene"].cat.categories.astype(str)  # the features seen, sorted
    genes = names[~is_control_name(names)]
    keep = ~frame["is_control"].to_numpy() & frame["cell_id"].notna().to_numpy()
    if min_qv is not None and "qv" in frame.columns:
        keep &= frame["qv"].to_numpy() >= min_qv
        notes.append(f"counts include only molecules with qv >= {min_qv}.")
    elif min_qv is not None:
        notes.append(f"min_qv={min_qv} ignored: the molecule table has no qv column.")
    counts = count_by_cell(frame, ids, genes, keep=keep)
    if (n_controls := int(frame["is_control"].sum())):
        n_names = frame.loc[frame["is_control"], "gene"].nunique()
        notes.append(f"{n_controls} molecules of {n_names} control features are kept in molecules, not counted.")
    start = table.frame.copy() if table is not None else pd.DataFrame(index=ids)
    cell_frame, cell_notes = fill_cells(start.reindex(ids), cell_polygons=polygons["cell"],
                                        nucleus_polygons=polygons["nucleus"], molecules=frame)
    notes += cell_notes
    if celltypes is not None:
        types, type_notes = types_by_cell(celltypes, ids, molecules=frame, raw_molecules=molecules.reset_index(
            drop=True))
        cell_frame["celltype"] = celltype_column(types)
        notes += type_notes
    if "overlaps_nucleus" not in frame.columns and polygons["nucleus"] is not None:
        frame["overlaps_nucleus"] = inside_any(polygons["nucleus"], frame["x"].to_numpy(), frame["y"].to_numpy())
        notes.append("overlaps_nucleus computed from the nucleus polygons (in or on one).")
    notes += unit_notes(cell_frame, what="the cells")
    return Reference(
        counts=counts,
        genes=list(genes),
        cells=cell_frame,
        molecules=frame,
        cell_polygons=polygons["cell"],
        nucleus_polygons=polygons["nucleus"],
        region_area_um2=region_area(frame["x"].to_numpy(), frame["y"].to_numpy(), polygons["cell"]),
        source="molecule table",
        notes=notes,
    )
