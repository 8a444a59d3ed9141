"""A :class:`~STpuppeteer.fit.reference.Reference` from a :class:`spatialdata.SpatialData`.

What each ``spatialdata_io`` reader (0.7) gives, and what is read from it:

============  ===============================  ===================================  ==========================
reader        points                           table ``"table"``                    shapes
============  ===============================  ===================================  ==========================
``xenium``    ``transcripts``: x, y, z (µm),   X (gene expression only), obs        ``cell_boundaries`` (index
              ``feature_name``, ``cell_id``,   ``cell_id``, ``cell_area``,          cell_id),
              ``qv``, ``overlaps_nucleus``     ``nucleus_area``; obsm ``spatial``   ``nucleus_boundaries``
                                                                                    (column cell_id)
``merscope``  ``{slide}_{region}_transcripts``  X (Blank- columns moved out), obs   ``{slide}_{region}_polygons``
              x, y (µm), z (plane index),      index EntityID; obsm ``spatial``     (index EntityID); no nuclei
              ``gene``, ``cell_id`` (-1: none)
``cosmx``     ``{fov}_points`` per FOV: x, y   X (with NegPrb/SystemControl), obs   none (label rasters only)
              (FOV pixels), ``x_global_px``,   index ``{cell_ID}_{fov}``, ``Area``
              ``y_global_px``, ``target``,     (pixels²); obsm ``global`` (pixels)
              ``cell_ID`` (0: none), ``fov``,
              ``z_raw``, ``CellComp``
============  ===============================  ===================================  ==========================

Any other SpatialData (e.g. STpuppeteer's own ``.zarr``, or one written by another tool) is
read by the elements' own metadata: the table (``"table"``, or the only one) and its
instance key, the points ``"transcripts"`` (or the only points element) with their feature
and instance keys, the shapes the table annotates (or ``"cell_boundaries"``) and
``"nucleus_boundaries"``. Coordinates are the elements' own (intrinsic) ones, taken as µm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from STpuppeteer.fit import read_names as rn
from STpuppeteer.fit.read_anndata import anndata_parts
from STpuppeteer.fit.read_cells import fill_cells
from STpuppeteer.fit.read_molecule_columns import check_pixel_size, molecule_frame
from STpuppeteer.fit.read_shapes import align_polygons, inside_any, region_area
from STpuppeteer.fit.reference import Reference
from STpuppeteer.io._cosmx_constants import PIXEL_SIZE as COSMX_PIXEL_SIZE

__all__ = ["reference_from_spatialdata"]

# spatialdata_io's element and column names (readers/xenium.py, merscope.py, cosmx.py).
XENIUM, MERSCOPE, COSMX = "xenium", "merscope", "cosmx"
TABLE = "table"
TRANSCRIPTS = "transcripts"
CELL_SHAPES = "cell_boundaries"
NUCLEUS_SHAPES = "nucleus_boundaries"
COSMX_POINTS_SUFFIX = "_points"
COSMX_GLOBAL_OBSM = "global"
COSMX_Z = "z_raw"
# STpuppeteer's own SpatialData keeps the true source cell as the points' cell_id; the cell an
# instrument would see is the one the molecule landed in.
LANDED_CELL = "landed_cell_id"
STPUPPETEER_UNS = "stpuppeteer"  # its table's uns entry (io/anndata.py): coordinates in µm
_POLYGON_TYPES = {shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON}


def _attrs(element: object) -> dict:
    """The ``spatialdata_attrs`` of an element: in ``attrs`` for points, in ``uns`` for a table."""
    holder = element.uns if hasattr(element, "uns") else getattr(element, "attrs", {})
    return dict(holder.get("spatialdata_attrs", {}))


def _table(sdata: object) -> object:
    tables = dict(sdata.tables)
    if TABLE in tables:
        return tables[TABLE]
    if len(tables) == 1:
        return next(iter(tables.values()))
    msg = (f"sdata holds tables {sorted(tables)}; a reference needs one table of counts, named {TABLE!r} or the "
           "only one.")
    raise ValueError(msg)


def _cell_ids(table: object, reader: str | None) -> pd.Index:
    """The table's cell ids as the points and shapes name them."""
    obs = table.obs
    key = {XENIUM: "cell_id", MERSCOPE: None, COSMX: None}.get(reader, _attrs(table).get("instance_key"))
    ids = rn.cell_id_strings(obs[key]) if key in obs.columns else pd.Series(obs.index.astype(str), dtype="string")
    return pd.Index(ids.to_numpy(dtype=object), name="cell_id")


def _computed(element: object) -> pd.DataFrame:
    return element.compute() if hasattr(element, "compute") else pd.DataFrame(element)


def _molecule_table(sdata: object, reader: str | None) -> tuple[pd.DataFrame | None, list[str]]:
    """The points as a molecule table :func:`molecule_frame` reads, or ``None`` without points."""
    points = dict(sdata.points)
    if reader == COSMX:
        parts = [_computed(v) for k, v in sorted(points.items()) if k.endswith(COSMX_POINTS_SUFFIX)]
        if not parts:
            return None, []
        raw = pd.concat(parts, ignore_index=True)
        # FOV pixels x, y and the "cell" name go: molecule_frame names cells {cell_ID}_{fov}, as the table
        table = raw.drop(columns=["x", "y", "cell"], errors="ignore").rename(columns={COSMX_Z: "z"})
        return table, []
    if not points:
        return None, []
    if TRANSCRIPTS in points or len(points) == 1:
        element = points.get(TRANSCRIPTS, next(iter(points.values())))
    else:
        msg = f"sdata holds points {sorted(points)}; name the molecules {TRANSCRIPTS!r} or keep only one."
        raise ValueError(msg)
    attrs, table, notes = _attrs(element), _computed(element), []
    if reader == MERSCOPE:  # the reader renamed global_z, a focal-plane index, to z
        table = table.rename(columns={"z": rn.MERSCOPE_Z_PLANE})
    feature = attrs.get("feature_key")
    if feature and feature not in rn.GENE_COLUMNS:
        table = table.drop(columns=[c for c in rn.GENE_COLUMNS if c in table.columns]).rename(
            columns={feature: "gene"})
    cell = LANDED_CELL if LANDED_CELL in table.columns else attrs.get("instance_key")
    if cell == LANDED_CELL:
        notes.append(f"molecules' cells from {LANDED_CELL!r} (the cell each landed in; cell_id is the true source).")
    if cell and cell != "cell_id":
        table = table.drop(columns=[c for c in rn.CELL_COLUMNS if c in table.columns]).rename(
            columns={cell: "cell_id"})
    return table, notes


def _polygons(sdata: object, table: object, ids: pd.Index, *, scale: float) -> dict[str, np.ndarray | None]:
    """Cell and nucleus polygons aligned with ``ids`` (``None`` where the SpatialData has none)."""
    shapes = dict(sdata.shapes)
    region = _attrs(table).get("region")
    regions = [region] if isinstance(region, str) else list(region or [])
    cell_name = next((r for r in regions if r in shapes), CELL_SHAPES)
    out: dict[str, np.ndarray | None] = {"cell": None, "nucleus": None}
    for key, name in (("cell", cell_name), ("nucleus", NUCLEUS_SHAPES)):
        if name not in shapes:
            continue
        gdf = shapes[name]
        geoms = np.asarray(gdf.geometry.values, dtype=object)
        kinds = set(shapely.get_type_id(geoms).tolist()) - {-1}  # -1: a missing geometry
        if not kinds or not kinds <= _POLYGON_TYPES:
            continue  # circles (points with a radius) are not polygons
        keys = gdf["cell_id"] if "cell_id" in gdf.columns else gdf.index.to_series()
        if scale != 1.0:
            geoms = shapely.transform(geoms, lambda xy: xy * scale)
        out[key] = align_polygons(geoms, rn.cell_id_strings(keys).to_numpy(dtype=object), ids)
    return out


def reference_from_spatialdata(
    sdata: object,
    *,
    celltype_key: str | None = None,
    layer: str | None = None,
    pixel_size_um: float | None = None,
) -> Reference:
    """Build a :class:`~STpuppeteer.fit.reference.Reference` from a SpatialData (see the module's table).

    Parameters
    ----------
    sdata
        As ``spatialdata_io.xenium``, ``.merscope`` or ``.cosmx`` return it (recognised by
        ``sdata.attrs['spatialdata_io_reader']``), or any SpatialData with a table of counts.
        Points backed by Dask are computed.
    celltype_key
        Column of the table's ``obs`` holding each cell's type.
    layer
        Layer of the table holding the raw counts; ``None`` reads ``X``.
    pixel_size_um
        µm per pixel: CosMx's (default 0.12028, CosMx's camera), or the unit of another
        SpatialData's coordinates when they are pixels. ``None`` otherwise (µm).

    Returns
    -------
    The reference: counts from the table (controls dropped), molecules from the points,
    polygons from the shapes, areas from the table (CosMx's ``Area`` × pixel size²) or the
    polygons; ``region_area_um2`` is the convex hull of the molecules and cell polygons.

    Examples
    --------
    >>> import spatialdata_io  # doctest: +SKIP
    >>> sdata = spatialdata_io.xenium("outs/", cells_labels=False, nucleus_labels=False)  # doctest: +SKIP
    >>> ref = reference_from_spatialdata(sdata)  # doctest: +SKIP
    """
    check_pixel_size(pixel_size_um)
    reader = sdata.attrs.get("spatialdata_io_reader")
    table = _table(sdata)
    cosmx = reader == COSMX
    scale = (COSMX_PIXEL_SIZE if pixel_size_um is None else pixel_size_um) if cosmx else (pixel_size_um or 1.0)
    counts, genes, cells, notes = anndata_parts(table, celltype_key=celltype_key, layer=layer,
                                                spatial_key=COSMX_GLOBAL_OBSM if cosmx else "spatial")
    ids = _cell_ids(table, reader)
    cells = cells.set_axis(ids, axis=0)
    for column in {"x", "y"} & set(cells.columns):
        cells[column] *= scale
    for column in {"cell_area", "nucleus_area"} & set(cells.columns):
        cells[column] *= scale**2
    if cosmx and rn.COSMX_AREA_PX in table.obs.columns:
        cells["cell_area"] = table.obs[rn.COSMX_AREA_PX].to_numpy(dtype=float) * scale**2
    if reader not in (XENIUM, MERSCOPE, COSMX) and scale == 1.0 and STPUPPETEER_UNS not in table.uns:
        notes.append("coordinates are the elements' own (intrinsic), taken as µm.")
    raw, point_notes = _molecule_table(sdata, reader)
    molecules = None
    if raw is not None and len(raw):
        molecules, frame_notes = molecule_frame(raw, pixel_size_um=pixel_size_um)
        notes += point_notes + frame_notes
        if (extra := int((~molecules["cell_id"].dropna().isin(ids)).sum())):
            notes.append(f"{extra} molecules name a cell the table lacks; kept with their cell id.")
    polygons = _polygons(sdata, table, ids, scale=scale)
    cells, cell_notes = fill_cells(cells, cell_polygons=polygons["cell"], nucleus_polygons=polygons["nucleus"],
                                   molecules=molecules)
    notes += cell_notes
    area = None
    if molecules is not None:
        if "overlaps_nucleus" not in molecules.columns and polygons["nucleus"] is not None:
            molecules["overlaps_nucleus"] = inside_any(polygons["nucleus"], molecules["x"], molecules["y"])
            notes.append("overlaps_nucleus computed from the nucleus polygons (in or on one).")
        area = region_area(molecules["x"].to_numpy(), molecules["y"].to_numpy(), polygons["cell"])
    notes += rn.unit_notes(cells, what="the cells")
    return Reference(
        counts=counts,
        genes=genes,
        cells=cells,
        molecules=molecules,
        cell_polygons=polygons["cell"],
        nucleus_polygons=polygons["nucleus"],
        region_area_um2=area,
        source=f"SpatialData ({reader or 'not from spatialdata_io'})",
        notes=notes,
    )
