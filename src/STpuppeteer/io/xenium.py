"""Write a simulation as a Xenium output bundle (XOA 2.x layout) that ``spatialdata_io.xenium`` reads.

What the instrument files say is what the instrument would see: a molecule's ``cell_id``
is the cell whose (true) boundary contains it — its ``landed_cell_id`` — not the cell it came
from, and the cell-feature matrix counts the molecules each cell contains with a quality
score of at least 20. The truth (source cell and origin per molecule, true counts) is in
``ground_truth/``, which no instrument writes.

Coordinates are the simulation's µm; the morphology image and the label masks start at the
origin with Xenium's 0.2125 µm pixels, so ``x_location / 0.2125`` is the pixel column.
"""

from __future__ import annotations

import json
import string
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from scipy import sparse

from STpuppeteer._random import Stage
from STpuppeteer.geometry.nearest_nucleus import NearestNucleus
from STpuppeteer.geometry.raster import PixelGrid, rasterize_labels
from STpuppeteer.geometry.rings import Rings
from STpuppeteer.io import _xenium_constants as xc
from STpuppeteer.io.atomic import atomic_output_dir
from STpuppeteer.io.cell_ids import DATASET_SUFFIX, UNASSIGNED, encode_cell_ids
from STpuppeteer.io.manifest import write_manifest
from STpuppeteer.io.observed import count_landed, feature_codes, observed_controls
from STpuppeteer.io.parquet import ParquetStream, write_parquet
from STpuppeteer.stages.image import render_from_labels

if TYPE_CHECKING:
    from collections.abc import Callable

    from STpuppeteer.result import SimulationResult

__all__ = [
    "CellPolygons",
    "NearestNucleus",
    "transcripts_table",
    "write_xenium",
    "xenium_features",
    "xenium_grid",
    "xenium_observed_counts",
]

_T = xc.XeniumTranscriptColumns
_C = xc.XeniumCellColumns
_F = xc.XeniumFiles
# Values per chunk of the HDF5 matrix's data and indices.
_H5_CHUNK = 1 << 16
# Cells per row group of the boundary files (their vertices and ids are built a group at a time).
_BOUNDARY_CELLS_PER_GROUP = 65_536


# --- features and counts -------------------------------------------------------------------


def xenium_features(result: SimulationResult) -> pd.DataFrame:
    """The panel as Xenium lists it: the genes in ``gpar_df`` order, then the control codewords.

    Parameters
    ----------
    result
        The simulation.

    Returns
    -------
    One row per feature: ``feature_name``, ``feature_type`` (10x's, e.g. ``"Gene Expression"``,
    ``"Negative Control Probe"``), ``codeword_category`` and ``is_gene``; the row number is the
    ``codeword_index``.
    """
    genes = pd.Index(result.gpar_df["feature_name"].astype(str))
    controls = observed_controls(result.trs_df, genes)
    types, categories = [], []
    for name in controls:
        match = [v for prefix, v in xc.CONTROL_PREFIXES.items() if name.startswith(prefix)]
        if not match:
            msg = (
                f"trs_df.feature_name holds {name!r}, which is neither a gene of gpar_df nor a control "
                f"codeword; allowed control prefixes are {sorted(xc.CONTROL_PREFIXES)}."
            )
            raise ValueError(msg)
        types.append(match[0][0])
        categories.append(match[0][1])
    n_genes = len(genes)
    return pd.DataFrame(
        {
            "feature_name": [*genes, *controls],
            "feature_type": [xc.GENE_EXPRESSION] * n_genes + types,
            "codeword_category": [xc.GENE_CODEWORD_CATEGORY] * n_genes + categories,
            "is_gene": np.arange(n_genes + len(controls)) < n_genes,
        }
    )


def xenium_observed_counts(result: SimulationResult, features: pd.DataFrame | None = None) -> sparse.csr_matrix:
    """What the instrument counts: molecules per cell (rows, ``cell_gdf`` order) and feature.

    A molecule counts for the cell whose boundary contains it (``landed_cell_id``) when its
    quality score is at least 20, as in Xenium's ``cell_feature_matrix``.

    Parameters
    ----------
    result
        The simulation.
    features
        The feature table from :func:`xenium_features` (computed when omitted).

    Returns
    -------
    ``int32`` CSR matrix, cells × features.
    """
    features = xenium_features(result) if features is None else features
    trs = result.trs_df
    cell_ids = result.cell_gdf["cell_id"].to_numpy()
    landed = trs["landed_cell_id"].to_numpy()
    if not np.isin(landed[landed >= 0], cell_ids).all():
        msg = "trs_df.landed_cell_id holds ids that are not in cell_gdf.cell_id; every landed cell must exist."
        raise ValueError(msg)
    return count_landed(trs, cell_ids, features["feature_name"], keep=trs["qv"].to_numpy() >= xc.QV_THRESHOLD)


# --- geometry --------------------------------------------------------------------------------


def _single_polygons(geoms: np.ndarray) -> np.ndarray:
    """One polygon per geometry: the largest part of a multipolygon, holes dropped."""
    simple = shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON
    if simple.all() and not shapely.is_empty(geoms).any() and not shapely.get_num_interior_rings(geoms).any():
        return np.asarray(geoms, dtype=object)  # already what is wanted; a copy of a slide's polygons costs GBs
    parts, index = shapely.get_parts(geoms, return_index=True)
    order = np.lexsort((-shapely.area(parts), index))
    first = order[np.r_[True, index[order][1:] != index[order][:-1]]]
    if len(first) != len(geoms):
        msg = "cell_gdf has an empty cell or nucleus polygon; every cell needs both."
        raise ValueError(msg)
    return shapely.polygons(shapely.get_exterior_ring(parts[first]))


def _boundary_table(rings: tuple[np.ndarray, np.ndarray], cell_codes: pa.Array, first: int) -> pa.Table:
    """Vertices of each polygon's closed exterior ring, rows contiguous per polygon.

    ``rings`` (vertices and ``(n + 1,)`` offsets) are those of cells ``first, first + 1, …``;
    ``cell_codes`` are all cells' ids.
    """
    coords, start = rings
    n = len(start) - 1
    index = np.repeat(np.arange(n), np.diff(start))
    # The ids as a dictionary of the slice's cells (Parquet writes it without hashing a string per vertex).
    ids = pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32)), cell_codes.slice(first, n))
    index = index + first
    return pa.table(
        {
            _C.CELL_ID: ids,
            _C.VERTEX_X: pa.array(coords[:, 0].astype(np.float32)),
            _C.VERTEX_Y: pa.array(coords[:, 1].astype(np.float32)),
            _C.LABEL_ID: pa.array((index + 1).astype(np.uint32)),
        }
    )


def _write_boundaries(path: Path, rings: Callable[[int, int], tuple[np.ndarray, np.ndarray]], n: int,
                      cell_codes: np.ndarray) -> None:
    """A boundaries file, written a slice of cells at a time (one row group each: bounded memory).

    ``rings(lo, hi)`` gives the exterior rings of cells ``lo:hi`` (vertices and offsets). The
    ids are written as a dictionary, without the Arrow schema, so they read back as strings.
    """
    codes = pa.array(np.asarray(cell_codes, dtype=object), type=pa.string())
    stream = ParquetStream(path, store_schema=False)
    try:
        for lo in range(0, max(n, 1), _BOUNDARY_CELLS_PER_GROUP):
            hi = min(lo + _BOUNDARY_CELLS_PER_GROUP, n)
            stream.write(_boundary_table(rings(lo, hi), codes, lo))
    finally:
        stream.close()


@dataclass(frozen=True)
class CellPolygons:
    """The cells' and nuclei's polygons as the writers need them: measures, and polygons by slice.

    Attributes
    ----------
    cell_area, nucleus_area
        Areas, µm².
    cell_centroid, nucleus_centroid
        ``(n, 2)`` centroids.
    cells, nuclei
        ``cells(lo, hi)`` gives the polygons of cells ``lo:hi`` (likewise ``nuclei``).
    cell_rings, nucleus_rings
        ``cell_rings(lo, hi)`` gives their exterior rings (vertices and ``(n + 1,)`` offsets,
        as :meth:`~STpuppeteer.pipeline.cell_store.Rings.gather`), which the boundary files list,
        without polygons where the caller holds coordinates.
    """

    cell_area: np.ndarray
    nucleus_area: np.ndarray
    cell_centroid: np.ndarray
    nucleus_centroid: np.ndarray
    cells: Callable[[int, int], np.ndarray]
    nuclei: Callable[[int, int], np.ndarray]
    cell_rings: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    nucleus_rings: Callable[[int, int], tuple[np.ndarray, np.ndarray]]

    def __len__(self) -> int:
        return len(self.cell_area)

    @classmethod
    def from_arrays(cls, cells: np.ndarray, nuclei: np.ndarray) -> CellPolygons:
        """From arrays of shapely polygons."""
        return cls(
            cell_area=shapely.area(cells),
            nucleus_area=shapely.area(nuclei),
            cell_centroid=shapely.get_coordinates(shapely.centroid(cells)),
            nucleus_centroid=shapely.get_coordinates(shapely.centroid(nuclei)),
            cells=lambda lo, hi: cells[lo:hi],
            nuclei=lambda lo, hi: nuclei[lo:hi],
            cell_rings=lambda lo, hi: _rings(cells[lo:hi]),
            nucleus_rings=lambda lo, hi: _rings(nuclei[lo:hi]),
        )


def _rings(polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exterior rings of polygons without holes: vertices and offsets."""
    rings = Rings.from_polygons(polygons)
    return rings.coords, rings.start


def _nucleus_centres(cell_gdf: pd.DataFrame) -> np.ndarray:
    """The simulated nucleus centres (each nucleus is star-shaped about its own), else the centroids."""
    if {"nucleus_x", "nucleus_y"} <= set(cell_gdf.columns):
        return cell_gdf[["nucleus_x", "nucleus_y"]].to_numpy(dtype=np.float64)
    return shapely.get_coordinates(shapely.centroid(np.asarray(cell_gdf["nucleus"].values)))


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
    so a block's cell ids do not carry every cell of the slide.
    """
    if not isinstance(values, pa.Array):
        values = pa.array(np.asarray(values, dtype=object), type=pa.string())
    used = np.zeros(len(values), dtype=bool)
    used[index] = True
    codes = np.cumsum(used, dtype=np.int32) - 1
    return pa.DictionaryArray.from_arrays(pa.array(codes[index]), values.take(pa.array(np.flatnonzero(used))))


# --- the files -------------------------------------------------------------------------------


def _write_specs(folder: Path, result: SimulationResult, n_transcripts: int) -> None:
    from STpuppeteer import __version__

    n_cells = len(result.cell_gdf)
    specs = {
        "major_version": xc.MAJOR_VERSION,
        "minor_version": xc.MINOR_VERSION,
        "run_name": f"STpuppeteer simulation (seed {result.config.seed})",
        "region_name": "simulated_tile",
        "preservation_method": "simulated",
        "num_cells": n_cells,
        "transcripts_per_cell": round(n_transcripts / max(n_cells, 1)),
        "panel_name": "STpuppeteer simulated panel",
        "panel_organism": "simulated",
        "panel_num_targets_predesigned": len(result.gpar_df),
        "panel_num_targets_custom": 0,
        "pixel_size": xc.PIXEL_SIZE,
        "instrument_sw_version": f"STpuppeteer {__version__}",
        "analysis_sw_version": xc.ANALYSIS_SW_VERSION,
        "images": {
            "morphology_focus_filepath": f"{_F.MORPHOLOGY_FOCUS_DIR}/{_F.MORPHOLOGY_FOCUS_IMAGE.format(0)}",
        },
        "simulated": True,
    }
    (folder / _F.SPECS).write_text(json.dumps(specs, indent=2))


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


def _write_transcripts(
    folder: Path,
    result: SimulationResult,
    cell_codes: np.ndarray,
    nuclei: np.ndarray,
    features: pd.DataFrame,
) -> None:
    trs = result.trs_df
    position = pd.Index(result.cell_gdf["cell_id"].to_numpy()).get_indexer(trs["landed_cell_id"].to_numpy())
    table = transcripts_table(
        trs, position, cell_codes, features,
        nearest=NearestNucleus.build(nuclei, _nucleus_centres(result.cell_gdf)),
        fov_size=result.config.instrument.fov_size_um,
    )
    write_parquet(table, folder / _F.TRANSCRIPTS, store_schema=False)


def _write_cells_table(
    folder: Path,
    result: SimulationResult,
    cell_codes: np.ndarray,
    polygons: CellPolygons,
    totals: dict[str, np.ndarray],
) -> None:
    """``cells.parquet`` (``totals``: its count columns, :func:`cell_totals`)."""
    cell_gdf = result.cell_gdf
    columns = {
        _C.CELL_ID: pa.array(cell_codes, type=pa.string()),
        _C.X: pa.array(cell_gdf["x"].to_numpy(dtype=np.float64)),
        _C.Y: pa.array(cell_gdf["y"].to_numpy(dtype=np.float64)),
    }
    for column in (*xc.COUNT_COLUMN_OF_TYPE.values(), _C.TOTAL_COUNTS):
        columns[column] = pa.array(totals[column])
    columns[_C.CELL_AREA] = pa.array(polygons.cell_area)
    columns[_C.NUCLEUS_AREA] = pa.array(polygons.nucleus_area)
    columns[_C.NUCLEUS_COUNT] = pa.array(np.ones(len(cell_gdf), dtype=np.int64))
    method = f"Simulated cell boundaries (STpuppeteer, max expansion {result.config.morphology.max_expansion_um} µm)"
    columns[_C.SEGMENTATION_METHOD] = pa.array([method] * len(cell_gdf), type=pa.string())
    write_parquet(pa.table(columns), folder / _F.CELLS)


def _write_boundary_files(folder: Path, polygons: CellPolygons, cell_codes: np.ndarray) -> None:
    """``cell_boundaries.parquet`` and ``nucleus_boundaries.parquet``."""
    _write_boundaries(folder / _F.CELL_BOUNDARIES, polygons.cell_rings, len(polygons), cell_codes)
    _write_boundaries(folder / _F.NUCLEUS_BOUNDARIES, polygons.nucleus_rings, len(polygons), cell_codes)


class FeatureMatrixH5:
    """``cell_feature_matrix.h5`` (10x HDF5, v3 layout) written a range of cells at a time.

    Features × barcodes in CSC, i.e. per cell the features it holds, so cells are appended in
    order as CSR rows (:meth:`append`); only ``indptr`` (8 bytes a cell) stays in memory.
    Use as a context manager.
    """

    def __init__(self, path: Path, cell_codes: np.ndarray, features: pd.DataFrame) -> None:
        self.h5 = h5py.File(path, "w")
        self.n_cells = len(cell_codes)
        matrix = self.h5.create_group("matrix")
        matrix.create_dataset("barcodes", data=np.asarray(cell_codes).astype("S"))
        self.data = matrix.create_dataset("data", shape=(0,), maxshape=(None,), dtype=np.int32,
                                          chunks=(_H5_CHUNK,), compression="gzip")
        self.indices = matrix.create_dataset("indices", shape=(0,), maxshape=(None,), dtype=np.int64,
                                             chunks=(_H5_CHUNK,), compression="gzip")
        matrix.create_dataset("shape", data=np.array([len(features), len(cell_codes)], dtype=np.int32))
        names = features["feature_name"].to_numpy().astype("S")
        feats = matrix.create_group("features")
        feats.create_dataset("_all_tag_keys", data=np.array([b"genome"]))
        feats.create_dataset("feature_type", data=features["feature_type"].to_numpy().astype("S"))
        feats.create_dataset("genome", data=np.full(len(features), b"simulated"))
        feats.create_dataset("id", data=names)
        feats.create_dataset("name", data=names)
        self.indptr = [np.zeros(1, dtype=np.int64)]
        self.nnz = 0

    def append(self, rows: sparse.csr_matrix) -> None:
        """Append the next cells (rows of a cells × features matrix)."""
        rows = rows.tocsr()
        rows.sort_indices()
        n = rows.nnz
        for dataset, values in ((self.data, rows.data.astype(np.int32)), (self.indices, rows.indices.astype(np.int64))):
            dataset.resize((self.nnz + n,))
            dataset[self.nnz :] = values
        self.indptr.append(rows.indptr[1:].astype(np.int64) + self.nnz)
        self.nnz += n

    def __enter__(self) -> FeatureMatrixH5:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                indptr = np.concatenate(self.indptr)
                if len(indptr) != self.n_cells + 1:
                    msg = f"cell_feature_matrix.h5 got {len(indptr) - 1} cells, expected {self.n_cells}."
                    raise ValueError(msg)
                self.h5["matrix"].create_dataset("indptr", data=indptr)
        finally:
            self.h5.close()


def cell_totals(counts: sparse.csr_matrix, features: pd.DataFrame) -> dict[str, np.ndarray]:
    """The count columns of ``cells.parquet`` (per feature type, and in all) of some cells."""
    counts = counts.tocsr()
    by_type = {t: np.zeros(counts.shape[0], dtype=np.int64) for t in xc.COUNT_COLUMN_OF_TYPE}
    for feature_type, idx in features.groupby("feature_type").indices.items():
        by_type[feature_type] = np.asarray(counts[:, idx].sum(axis=1)).ravel().astype(np.int64)
    totals = {column: by_type[feature_type] for feature_type, column in xc.COUNT_COLUMN_OF_TYPE.items()}
    totals[_C.TOTAL_COUNTS] = np.asarray(counts.sum(axis=1)).ravel().astype(np.int64)
    return totals


def _write_feature_matrix(
    folder: Path, cell_codes: np.ndarray, counts: sparse.csr_matrix, features: pd.DataFrame
) -> None:
    """10x HDF5 (v3 layout) of the whole matrix at once."""
    with FeatureMatrixH5(folder / _F.CELL_FEATURE_MATRIX, cell_codes, features) as h5:
        h5.append(counts)


def _write_cells_zarr(
    folder: Path,
    result: SimulationResult,
    polygons: CellPolygons,
    nucleus_mask: np.ndarray,
    cell_mask: np.ndarray,
) -> None:
    """``cells.zarr.zip`` (zarr v2 in a zip): cell ids, a per-cell summary and the label masks.

    Labels are the cell's row + 1 in both masks; one nucleus per cell, so both
    ``polygon_sets/*/cell_index`` are ``0 … n-1``.
    """
    import zarr

    n = len(polygons)
    ids = result.cell_gdf["cell_id"].to_numpy().astype(np.uint32)
    z_level = np.zeros(n)
    summary = np.column_stack(
        [
            polygons.cell_centroid,
            polygons.cell_area,
            polygons.nucleus_centroid,
            polygons.nucleus_area,
            z_level,
            np.ones(n),
        ]
    )
    chunks = (min(4096, nucleus_mask.shape[0]), min(4096, nucleus_mask.shape[1]))
    store = zarr.storage.ZipStore(folder / _F.CELLS_ZARR, mode="w")
    try:
        root = zarr.open_group(store, mode="w", zarr_format=2)
        root.create_array(xc.ZARR_CELL_ID, data=np.column_stack([ids, np.full(n, DATASET_SUFFIX, dtype=np.uint32)]))
        root.create_array(
            xc.ZARR_CELL_SUMMARY, data=summary, attributes={"column_names": list(xc.CELL_SUMMARY_COLUMNS)}
        )
        masks = root.create_group(xc.ZARR_MASKS)
        masks.create_array(xc.ZARR_NUCLEUS_MASK, data=nucleus_mask, chunks=chunks)
        masks.create_array(xc.ZARR_CELL_MASK, data=cell_mask, chunks=chunks)
        polygon_sets = root.create_group(xc.ZARR_POLYGON_SETS)
        for key in (xc.ZARR_NUCLEUS_MASK, xc.ZARR_CELL_MASK):
            polygon_sets.create_group(key).create_array("cell_index", data=np.arange(n, dtype=np.uint32))
    finally:
        store.close()


def _ome_xml(shape: tuple[int, int], channel_names: tuple[str, ...], files: list[str], uuids: list[str]) -> str:
    """OME-XML of a multi-file OME-TIFF: one plane per channel, each in its own file."""
    from xml.sax.saxutils import quoteattr

    channels = "".join(
        f'<Channel ID="Channel:0:{i}" Name={quoteattr(name)} SamplesPerPixel="1"/>'
        for i, name in enumerate(channel_names)
    )
    planes = "".join(
        f'<TiffData FirstC="{i}" FirstT="0" FirstZ="0" IFD="0" PlaneCount="1">'
        f"<UUID FileName={quoteattr(file)}>{uuid}</UUID></TiffData>"
        for i, (file, uuid) in enumerate(zip(files, uuids, strict=True))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" '
        f'UUID="{uuids[0]}" Creator="STpuppeteer">'
        '<Image ID="Image:0" Name="morphology_focus">'
        f'<Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" SizeX="{shape[1]}" SizeY="{shape[0]}" '
        f'SizeC="{len(channel_names)}" SizeZ="1" SizeT="1" PhysicalSizeX="{xc.PIXEL_SIZE}" '
        f'PhysicalSizeXUnit="µm" PhysicalSizeY="{xc.PIXEL_SIZE}" PhysicalSizeYUnit="µm">'
        f"{channels}{planes}</Pixels></Image></OME>"
    )


def _write_morphology(
    folder: Path, image: np.ndarray, channel_names: tuple[str, ...], *, rng: np.random.Generator
) -> None:
    """``morphology_focus/``: one OME-TIFF per channel, as XOA 2.x writes them.

    The first file's OME-XML describes every channel and names the file holding each plane
    (a multi-file OME-TIFF), so readers open all channels from ``morphology_focus_0000``; the
    others point back to it.
    """
    import tifffile

    out = folder / _F.MORPHOLOGY_FOCUS_DIR
    out.mkdir()
    files = [_F.MORPHOLOGY_FOCUS_IMAGE.format(i) for i in range(len(channel_names))]
    uuids = [f"urn:uuid:{uuid.UUID(bytes=rng.bytes(16), version=4)}" for _ in files]
    xml = _ome_xml(image.shape[1:], channel_names, files, uuids)
    for i, (plane, file) in enumerate(zip(image, files, strict=True)):
        description = (
            xml
            if i == 0
            else (
                '<?xml version="1.0" encoding="UTF-8"?>'
                f'<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="{uuids[i]}">'
                f'<BinaryOnly MetadataFile="{files[0]}" UUID="{uuids[0]}"/></OME>'
            )
        )
        tifffile.imwrite(
            out / file,
            plane,
            photometric="minisblack",
            compression="zlib",
            description=description.encode(),
            metadata=None,
        )


def _write_ground_truth(result: SimulationResult, folder: Path) -> None:
    try:
        from STpuppeteer.io.ground_truth import write_ground_truth
    except ModuleNotFoundError as err:
        if err.name != f"{__package__}.ground_truth":
            raise
        return
    write_ground_truth(result, folder)


def xenium_grid(result: SimulationResult) -> PixelGrid:
    """The pixel grid of the bundle's image and masks: from the origin to the farthest cell or molecule."""
    points = result.trs_df[["x", "y"]].to_numpy()
    return PixelGrid.from_origin(result.cell_gdf, points=points, pixel_size=xc.PIXEL_SIZE)


def write_xenium(
    result: SimulationResult, path: str | Path, *, overwrite: bool = False, multimodal: bool = False
) -> Path:
    """Write a Xenium output bundle (XOA 2.x layout) that ``spatialdata_io.xenium`` reads.

    The folder holds ``experiment.xenium``, ``transcripts.parquet``, ``cells.parquet``,
    ``cell_boundaries.parquet``, ``nucleus_boundaries.parquet``, ``cell_feature_matrix.h5``,
    ``cells.zarr.zip`` (label masks), ``morphology_focus/morphology_focus_0000.ome.tif``
    (DAPI-like image; ``_0001``–``_0003`` too with ``multimodal``), ``ground_truth/`` and
    ``manifest.json``. It appears only once complete.

    Parameters
    ----------
    result
        The simulation.
    path
        The folder to create.
    overwrite
        Replace an existing folder (only once the new one is complete).
    multimodal
        Write the four stains of Xenium's multimodal segmentation kit (DAPI, boundary, interior
        RNA, interior protein) instead of DAPI alone.

    Returns
    -------
    The folder's absolute path.

    Examples
    --------
    >>> from STpuppeteer import simulate  # doctest: +SKIP
    >>> out = simulate(seed=0, n_cells=300).write_xenium("sim_xenium")  # doctest: +SKIP
    >>> import spatialdata_io; sdata = spatialdata_io.xenium(out)  # doctest: +SKIP
    """
    cell_gdf = result.cell_gdf
    cell_codes = encode_cell_ids(cell_gdf["cell_id"].to_numpy())
    cells = _single_polygons(np.asarray(cell_gdf.geometry.values))
    nuclei = _single_polygons(np.asarray(cell_gdf["nucleus"].values))
    features = xenium_features(result)
    counts = xenium_observed_counts(result, features)
    grid = xenium_grid(result)
    with atomic_output_dir(path, overwrite=overwrite) as tmp:
        nucleus_mask = rasterize_labels(nuclei, grid)
        cell_mask = rasterize_labels(cells, grid)
        _write_specs(tmp, result, len(result.trs_df))
        _write_transcripts(tmp, result, cell_codes, nuclei, features)
        polygons = CellPolygons.from_arrays(cells, nuclei)
        _write_cells_table(tmp, result, cell_codes, polygons, cell_totals(counts, features))
        _write_boundary_files(tmp, polygons, cell_codes)
        _write_feature_matrix(tmp, cell_codes, counts, features)
        _write_cells_zarr(tmp, result, polygons, nucleus_mask, cell_mask)
        image = render_from_labels(
            nucleus_mask,
            cell_labels=cell_mask if multimodal else None,
            interior=multimodal,
            pixel_size=grid.pixel_size,
            rng=result.stage_rng(Stage.IMAGE),
        )
        del nucleus_mask, cell_mask
        names = xc.MULTIMODAL_CHANNEL_NAMES if multimodal else xc.MORPHOLOGY_CHANNEL_NAMES
        _write_morphology(tmp, image, names, rng=result.stage_rng(Stage.IMAGE_UUID))
        del image
        _write_ground_truth(result, tmp)
        write_manifest(tmp, result.config, fmt="xenium")
    return Path(path).expanduser().absolute()
