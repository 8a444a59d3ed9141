"""Read any supported input into a :class:`~STpuppeteer.fit.reference.Reference` (:func:`read_reference`).

The readers of each kind live in their own modules: :mod:`.read_anndata`,
:mod:`.read_molecules`, :mod:`.read_spatialdata`; this one recognises the input and, for
folders STpuppeteer wrote, takes the true cell types from the ground truth.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from STpuppeteer.fit.read_anndata import reference_from_anndata
from STpuppeteer.fit.read_cells import celltype_column
from STpuppeteer.fit.read_molecules import reference_from_molecules
from STpuppeteer.fit.read_spatialdata import reference_from_spatialdata
from STpuppeteer.io._cosmx_constants import CosmxFiles, cell_names
from STpuppeteer.io._merscope_constants import MerscopeFiles
from STpuppeteer.io.ground_truth import GROUND_TRUTH_DIR, GroundTruthFiles
from STpuppeteer.io.joins import truth_cell_id
from STpuppeteer.io.manifest import MANIFEST_NAME
from STpuppeteer.io.xenium._constants import XeniumFiles

if TYPE_CHECKING:
    from STpuppeteer.fit.reference import Reference

__all__ = ["ACCEPTED", "read_reference", "reference_from_anndata", "reference_from_molecules",
           "reference_from_spatialdata"]

ACCEPTED = (
    "an AnnData or a .h5ad file (raw counts); "
    "a pandas DataFrame or a .parquet/.csv/.csv.gz/.tsv/.tsv.gz file of molecules; "
    "a SpatialData or a .zarr store; "
    f"a Xenium output folder ({XeniumFiles.SPECS}); "
    f"a MERSCOPE region folder ({MerscopeFiles.TRANSCRIPTS}); "
    f"a CosMx flat-file folder (*_{CosmxFiles.COUNTS}); "
    f"an STpuppeteer run folder ({MANIFEST_NAME} and {GROUND_TRUTH_DIR}/)"
)
# The bundles of a run folder, as the CLI names them (cli.simulate.FORMAT_PATHS; a test keeps them
# equal), in the order read_reference prefers them: instrument files before the truth's views.
RUN_BUNDLES = ("xenium", "merscope", "cosmx", "simulation.zarr", "simulation.h5ad")
_TABLE_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".tsv", ".tsv.gz")
_XENIUM, _MERSCOPE, _COSMX = "xenium", "merscope", "cosmx"
# Warnings of spatialdata_io's readers about how they are called, not about the data.
_READER_WARNINGS = ("The table is annotating 'cell_labels'", "The dtype argument is deprecated")


def _is(obj: object, module: str, name: str) -> bool:
    return any(c.__name__ == name and c.__module__.split(".")[0] == module for c in type(obj).__mro__)


def _refuse_options(kind: str, **given: object) -> None:
    """Refuse options that do not apply to this kind of input."""
    for name, value in given.items():
        if value is not None:
            msg = f"{name}={value!r} does not apply to {kind}; leave it None."
            raise ValueError(msg)


def _read_table(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if name.endswith((".tsv", ".tsv.gz")) else ",")


def _instrument(path: Path) -> str | None:
    """Which instrument folder ``path`` is, or ``None``."""
    if (path / XeniumFiles.SPECS).is_file():
        return _XENIUM
    if (path / MerscopeFiles.TRANSCRIPTS).is_file():
        return _MERSCOPE
    if any(path.glob(f"*_{CosmxFiles.COUNTS}")):
        return _COSMX
    return None


def _read_instrument(path: Path, kind: str) -> object:
    """The folder through its ``spatialdata_io`` reader (images and label rasters are not read)."""
    import spatialdata_io

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # cosmx prints its progress
        for message in _READER_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        if kind == _XENIUM:
            return spatialdata_io.xenium(path, cells_labels=False, nucleus_labels=False, morphology_focus=False,
                                         morphology_mip=False, aligned_images=False, cells_as_circles=False)
        if kind == _MERSCOPE:
            return spatialdata_io.merscope(path, mosaic_images=False)
        return spatialdata_io.cosmx(path)


def _truth_cells(bundle: Path, key: str | None) -> Path | None:
    """The ground truth's cells file of an STpuppeteer bundle when it has column ``key``, else ``None``."""
    import pyarrow.parquet as pq

    if key is None or not (bundle / MANIFEST_NAME).is_file():
        return None
    for folder in (bundle / GROUND_TRUTH_DIR, bundle.parent / GROUND_TRUTH_DIR):  # its own, else its run's
        if (folder / GroundTruthFiles.CELLS).is_file():
            return folder / GroundTruthFiles.CELLS if key in pq.read_schema(folder / GroundTruthFiles.CELLS).names \
                else None
    return None


def _truth_types(ref: Reference, bundle: Path, kind: str, *, cells_file: Path, key: str) -> pd.Categorical:
    """Each instrument cell's type: the ground truth's column ``key`` of the true cell it is (part of)."""
    truth = pd.read_parquet(cells_file, columns=["cell_id", key])
    ids = ref.cells.index.to_numpy(dtype=str)
    pieces = None
    if kind == _COSMX:  # a cell cut by a FOV border is one instrument cell per FOV
        pieces = pd.read_parquet(bundle / GROUND_TRUTH_DIR / GroundTruthFiles.INSTRUMENT_CELLS)
        cell_id, fov = pd.Series(ids).str.split("_", n=1, expand=True).to_numpy().T  # the reader's <cell_ID>_<fov>
        ids = cell_names(fov, cell_id)
    true_id = truth_cell_id(ids, platform=kind, instrument_cells=pieces)
    return celltype_column(truth.set_index("cell_id")[key].reindex(true_id).to_numpy())


def _read_bundle(path: Path, kind: str, *, celltype_key: str | None, layer: str | None,
                 pixel_size_um: float | None) -> Reference:
    """An instrument folder; an STpuppeteer bundle's cell types may come from its ground truth."""
    manifest = path / MANIFEST_NAME
    notes = []
    if kind == _COSMX and pixel_size_um is None and manifest.is_file():
        pixel_size_um = json.loads(manifest.read_text()).get("pixel_size_um")  # what STpuppeteer's writer used
        if pixel_size_um is not None:
            notes.append(f"CosMx pixel size {pixel_size_um} µm from the bundle's {MANIFEST_NAME}.")
    cells_file = _truth_cells(path, celltype_key)
    ref = reference_from_spatialdata(_read_instrument(path, kind), layer=layer, pixel_size_um=pixel_size_um,
                                     celltype_key=None if cells_file is not None else celltype_key)
    ref = dataclasses.replace(ref, source=f"{kind} folder {path}", notes=[*ref.notes, *notes])
    if cells_file is None:
        return ref
    types = _truth_types(ref, path, kind, cells_file=cells_file, key=celltype_key)
    note = (f"cell types from the ground truth's cells (column {celltype_key!r}): the only place an instrument "
            "bundle of STpuppeteer keeps them.")
    if (missing := int(pd.isna(types).sum())):
        note += f" {missing} cell(s) have none."
    return dataclasses.replace(ref, cells=ref.cells.assign(celltype=types), notes=[*ref.notes, note])


def _read_path(path: Path, *, celltype_key: str | None, layer: str | None, cells: object,
               pixel_size_um: float | None, min_qv: float | None) -> Reference:
    if not path.exists():
        msg = f"path_or_object={str(path)!r} does not exist; allowed are {ACCEPTED}."
        raise FileNotFoundError(msg)
    name = path.name.lower()
    options = {"celltype_key": celltype_key, "layer": layer, "cells": cells, "pixel_size_um": pixel_size_um,
               "min_qv": min_qv}
    if path.is_file() and name.endswith(".h5ad"):
        import anndata as ad

        return dataclasses.replace(read_reference(ad.read_h5ad(path), **options), source=f"h5ad {path}")
    if path.is_file() and name.endswith(_TABLE_SUFFIXES):
        return dataclasses.replace(read_reference(_read_table(path), **options), source=f"molecule table {path}")
    if path.is_dir() and (name.endswith(".zarr") or (path / "zarr.json").is_file() or (path / ".zgroup").is_file()):
        import spatialdata

        return dataclasses.replace(read_reference(spatialdata.read_zarr(path), **options), source=f"SpatialData {path}")
    if path.is_dir() and (kind := _instrument(path)) is not None:
        _refuse_options(f"a {kind} folder", cells=cells, min_qv=min_qv)
        return _read_bundle(path, kind, celltype_key=celltype_key, layer=layer, pixel_size_um=pixel_size_um)
    if path.is_dir() and (path / MANIFEST_NAME).is_file() and (path / GROUND_TRUTH_DIR).is_dir():
        bundle = next((path / b for b in RUN_BUNDLES if (path / b).exists()), None)
        if bundle is None:
            msg = f"path_or_object={str(path)!r} is a run folder without a bundle; expected one of {RUN_BUNDLES}."
            raise ValueError(msg)
        ref = read_reference(bundle, **options)
        note = f"read the run folder's {bundle.name!r}"
        if bundle.name.endswith((".zarr", ".h5ad")):
            note += (" (no instrument bundle): its X holds the observed counts (detected gene molecules per "
                     "cell they landed in); the true counts are its layer 'true'")
        return dataclasses.replace(ref, notes=[*ref.notes, note + "."])
    msg = f"path_or_object={str(path)!r} is not an input read_reference knows; allowed are {ACCEPTED}."
    raise ValueError(msg)


def read_reference(
    path_or_object: object,
    *,
    celltype_key: str | None = None,
    layer: str | None = None,
    cells: pd.DataFrame | str | os.PathLike[str] | None = None,
    pixel_size_um: float | None = None,
    min_qv: float | None = None,
) -> Reference:
    """Read a dataset into a :class:`~STpuppeteer.fit.reference.Reference`, whatever its kind.

    Parameters
    ----------
    path_or_object
        What to read (a path as ``str`` or ``Path``):

        - an ``AnnData``, or a ``.h5ad`` file: :func:`reference_from_anndata`;
        - a ``DataFrame`` of molecules, or a ``.parquet``/``.csv``/``.csv.gz``/``.tsv``/``.tsv.gz``
          file of them: :func:`reference_from_molecules`;
        - a ``SpatialData``, or a ``.zarr`` store (``spatialdata.read_zarr``):
          :func:`reference_from_spatialdata`;
        - a Xenium output folder (holding ``experiment.xenium``), a MERSCOPE region folder
          (``detected_transcripts.csv``), a CosMx flat-file folder (``*_exprMat_file.csv``):
          read with ``spatialdata_io.xenium`` / ``.merscope`` / ``.cosmx`` (no images), then
          :func:`reference_from_spatialdata`;
        - an STpuppeteer run folder (``manifest.json`` and ``ground_truth/``, written by
          ``stpuppeteer simulate``): its ``xenium/`` bundle (else ``merscope/``, ``cosmx/``,
          ``simulation.zarr``, ``simulation.h5ad``).
    celltype_key
        Where each cell's type is: a column of the AnnData's (or the table's) ``obs``, or of a
        molecule table (each cell takes its molecules' most common value). For a bundle
        STpuppeteer wrote (a run folder, or a bundle holding or beside a ``ground_truth/``), a
        column of the ground truth's cells (e.g. ``"celltype"``) is taken from the truth:
        instrument files carry no types, so this is the only way a bundle gets true types.
    layer
        AnnData / SpatialData table layer holding the raw counts (``None``: ``X``).
    cells
        For a molecule table: its cells (a DataFrame or a ``.parquet``/``.csv`` path), see
        :func:`reference_from_molecules`.
    pixel_size_um
        µm per pixel of a molecule table's or a SpatialData's coordinates (CosMx: 0.12028 unless
        given, or the bundle's ``manifest.json`` says otherwise).
    min_qv
        For a molecule table: count only molecules with ``qv`` at least this.

    Returns
    -------
    The reference; ``source`` names what was read.

    Examples
    --------
    >>> ref = read_reference("run/", celltype_key="celltype")  # doctest: +SKIP
    >>> ref.n_cells, len(ref.genes), ref.notes  # doctest: +SKIP
    """
    options = {"celltype_key": celltype_key, "layer": layer, "cells": cells, "pixel_size_um": pixel_size_um,
               "min_qv": min_qv}
    if isinstance(path_or_object, str | os.PathLike):
        return _read_path(Path(path_or_object), **options)
    obj = path_or_object
    if _is(obj, "anndata", "AnnData"):
        _refuse_options("an AnnData", cells=cells, pixel_size_um=pixel_size_um, min_qv=min_qv)
        return reference_from_anndata(obj, celltype_key=celltype_key, layer=layer)
    if _is(obj, "spatialdata", "SpatialData"):
        _refuse_options("a SpatialData", cells=cells, min_qv=min_qv)
        return reference_from_spatialdata(obj, celltype_key=celltype_key, layer=layer, pixel_size_um=pixel_size_um)
    if _is(obj, "dask", "DataFrame"):
        obj = obj.compute()
    if isinstance(obj, pd.DataFrame):
        _refuse_options("a molecule table", layer=layer)
        if isinstance(cells, str | os.PathLike):
            cells = _read_table(Path(cells))
        return reference_from_molecules(obj, cells=cells, celltypes=celltype_key, pixel_size_um=pixel_size_um,
                                        min_qv=min_qv)
    kind = type(obj).__name__
    msg = f"path_or_object={kind} is not an input read_reference knows; allowed are {ACCEPTED}."
    raise ValueError(msg)

