"""The ``ground_truth/`` folder every instrument bundle carries: what no instrument writes.

An instrument's files say which cell its segmentation assigned a molecule to; the truth
(the molecule's source cell, how it got where it is, the true polygons and the true
counts) lives here, in formats any tool opens: Parquet and GeoParquet, keyed by
``transcript_id``, ``cell_id`` and ``feature_name``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from STpuppeteer.io.joins import JOIN_README, PLATFORM_ID_COLUMNS, platform_id_columns
from STpuppeteer.io.parquet import ParquetStream, write_parquet

if TYPE_CHECKING:
    from collections.abc import Iterable

    import geopandas as gpd

    from STpuppeteer.result import SimulationResult

__all__ = [
    "GROUND_TRUTH_DIR",
    "CellChunk",
    "GroundTruthFiles",
    "long_counts",
    "read_ground_truth",
    "write_cells_parquet",
    "write_ground_truth",
    "write_ground_truth_files",
    "write_instrument_cells",
]

GROUND_TRUTH_DIR = "ground_truth"


class GroundTruthFiles:
    """File names inside ``ground_truth/``."""

    MOLECULES = "molecules.parquet"
    CELLS = "cells.parquet"
    COUNTS = "true_counts.parquet"
    GENES = "genes.parquet"
    INSTRUMENT_CELLS = "instrument_cells.parquet"
    README = "README.md"


_README = """\
# Ground truth

Written by STpuppeteer next to the instrument-style files of this folder. No instrument
writes these: they are what the simulation knows and a method has to recover. Coordinates
are in µm, in the simulation's frame (the instrument files may use pixels or other units;
see their own transforms). Read them all at once with
`STpuppeteer.io.ground_truth.read_ground_truth(folder)`.

## `{molecules}`
One row per detected molecule (the same molecules as the instrument's transcript file,
joined on `transcript_id`):

| column | meaning |
|---|---|
| `transcript_id` | molecule id, also written in the instrument's transcript file |
| `x`, `y`, `z` | position, µm |
| `feature_name` | gene (or control probe/codeword, named as Xenium names them) |
| `cell_id` | **true source cell** (`-1`: none, for ambient and control molecules) |
| `celltype` | cell type of the source cell |
| `origin` | `cell` (in its source cell), `leaked` (left its cell), `ambient`, `control` |
| `landed_cell_id` | the true cell containing the position (`-1`: none): the instrument files' cell |
| `compartment` | `nucleus`, `cytoplasm` or `extracellular` where the molecule landed |
| `overlaps_nucleus` | whether the position lies in a nucleus |
| `qv` | quality score |

Further columns, when the simulation made them, are kept as they are (e.g. `true_feature_name`,
the gene a mis-called molecule really came from; with the optics on, `merged` and `lost`: how many
other true molecules of the same gene and source cell this detection stands for, merged into it
or lost to it because they were closer than the instrument resolves).

## `{cells}`
GeoParquet (read with `geopandas.read_parquet`), one row per true cell: `cell_id`,
`celltype`, centroid `x`, `y`, `z`, `nucleus_area`, `cell_area` (µm²), `scale`,
`leakage_percentage`, the cell polygon in `geometry` and the nucleus polygon in `nucleus`
(both WKB-encoded geometry columns), any further column of the simulation's `cell_gdf`, and
last each platform's own id of the cell: `xenium_cell_id`, `merscope_cell_id` (see "Joining
your results to the truth" below).

## `{counts}`
True counts before detection (the simulation's `count_array`), in long form, non-zero
entries only: `cell_id`, `feature_name`, `count`. Molecules lost to detection efficiency
are counted here but have no row in `{molecules}`; those merged or lost by the optics are
counted in the `merged` and `lost` of the detection that absorbed them.

## `{genes}`
The gene parameters (`gpar_df`): `feature_name`, `gene_type`, per cell type `ct_k_theta`
and `ct_k_mu`, and `gene_leakage`; when molecules were localised (`docs/model_molecules.md`),
also `compartment_preference` (the gene's pattern) and `compartment_strength`. Its row order is
the gene order of `count_array`.
"""

_README_PROGRAMS = """
This simulation used the program model (`docs/model_programs.md`), so `{genes}` holds instead:
`feature_name`, `gene_type` (the program loading the gene most, or `baseline`),
`expression_baseline` (μ0), one loading column per program (named after it), per cell type
`{{celltype}}_mu` (the expected count at size factor 1) and `gene_leakage` (and the localisation
columns as above).
"""

_README_INSTRUMENT_CELLS = """
## `{instrument_cells}`
How the instrument's cells map to the true cells: `{columns}`. {note}
"""


def _cells_frame(cell_gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    import geopandas as gpd

    cells = cell_gdf.copy()
    if "nucleus" in cells and not isinstance(cells["nucleus"], gpd.GeoSeries):
        cells["nucleus"] = gpd.GeoSeries(cells["nucleus"], index=cells.index)
    return cells.reset_index(drop=True)


class CellChunk(NamedTuple):
    """A slice of the true cells: the columns of ``cell_gdf`` but the polygons, and the polygons as WKB.

    ``columns`` is the order of the file's columns, the two polygon columns included.
    """

    frame: pd.DataFrame
    geometry: pa.Array
    nucleus: pa.Array
    columns: tuple[str, ...]

    @classmethod
    def from_gdf(cls, cell_gdf: gpd.GeoDataFrame) -> CellChunk:
        """From rows of ``cell_gdf`` (shapely polygons in ``geometry`` and ``nucleus``)."""
        import shapely

        cells = _cells_frame(cell_gdf)
        wkb = {name: pa.array(shapely.to_wkb(np.asarray(cells[name].values, dtype=object)), type=pa.binary())
               for name in _POLYGON_COLUMNS}
        return cls(pd.DataFrame(cells.drop(columns=list(_POLYGON_COLUMNS))), wkb["geometry"], wkb["nucleus"],
                   tuple(map(str, cells.columns)))


_POLYGON_COLUMNS = ("geometry", "nucleus")


def _geo_schema(chunk: CellChunk, columns: list[str]) -> pa.Schema:
    """The file's schema: geopandas's for the first row (GeoParquet metadata, without ``bbox``)."""
    import io

    import geopandas as gpd
    import pyarrow.parquet as pq
    import shapely

    first = chunk.frame.iloc[:1].reset_index(drop=True)
    polygons = {name: shapely.from_wkb(getattr(chunk, name).slice(0, 1).to_numpy(zero_copy_only=False))
                for name in _POLYGON_COLUMNS}
    sample = gpd.GeoDataFrame(first, geometry=gpd.GeoSeries(polygons["geometry"]))
    sample["nucleus"] = gpd.GeoSeries(polygons["nucleus"])
    buffer = io.BytesIO()
    sample[columns].to_parquet(buffer, index=False)
    schema = pq.read_schema(pa.BufferReader(buffer.getvalue()))
    geo = json.loads(schema.metadata[b"geo"])
    for column in geo["columns"].values():
        column.pop("bbox", None)  # an optional field that would describe the first row only
    return schema.with_metadata({**schema.metadata, b"geo": json.dumps(geo).encode()})


def write_cells_parquet(path: str | Path, chunks: Iterable[gpd.GeoDataFrame | CellChunk]) -> None:
    """The true cells as GeoParquet (polygons in ``geometry`` and ``nucleus``), one row group per chunk.

    A chunk is rows of ``cell_gdf`` or a :class:`CellChunk` (its polygons already WKB, e.g.
    from :func:`~STpuppeteer.geometry.wkb.polygon_wkb`). The file's schema and GeoParquet
    metadata are those geopandas writes (without the optional ``bbox``), so a slide's cells
    are written a slice at a time and read back with ``geopandas.read_parquet``. Each
    platform's id of the cell (:data:`~STpuppeteer.io.joins.PLATFORM_ID_COLUMNS`) is appended
    unless the chunk has it.
    """
    stream = ParquetStream(Path(path))
    schema = None
    try:
        for item in chunks:
            chunk = _with_platform_ids(item if isinstance(item, CellChunk) else CellChunk.from_gdf(item))
            columns = list(chunk.columns)
            if schema is None:
                schema = _geo_schema(chunk, columns)
            table = pa.Table.from_pandas(chunk.frame, preserve_index=False)
            arrays = [getattr(chunk, name) if name in _POLYGON_COLUMNS else table.column(name) for name in columns]
            stream.write(pa.Table.from_arrays(arrays, schema=schema))
    finally:
        stream.close()


def _with_platform_ids(chunk: CellChunk) -> CellChunk:
    """The chunk with the platform id columns it lacks appended, derived from ``cell_id``."""
    missing = [name for name in PLATFORM_ID_COLUMNS if name not in chunk.columns]
    if not missing:
        return chunk
    ids = platform_id_columns(chunk.frame["cell_id"].to_numpy())
    frame = chunk.frame.assign(**{name: ids[name] for name in missing})
    return chunk._replace(frame=frame, columns=(*chunk.columns, *missing))


def long_counts(count_array: np.ndarray, cell_ids: np.ndarray, feature_names: np.ndarray) -> pd.DataFrame:
    """True counts in long form: one row per (cell, gene) with a count above 0."""
    counts = np.asarray(count_array)
    rows, cols = np.nonzero(counts)
    return pd.DataFrame(
        {
            "cell_id": cell_ids[rows],
            "feature_name": pd.Categorical.from_codes(cols, categories=pd.Index(feature_names)),
            "count": counts[rows, cols].astype(np.int64),
        }
    )


def write_ground_truth(
    result: SimulationResult,
    folder: str | Path,
    *,
    instrument_cells: pd.DataFrame | None = None,
    instrument_cells_note: str = "",
) -> Path:
    """Write ``folder/ground_truth/``: molecules, true polygons, true counts and gene parameters.

    Parameters
    ----------
    result
        The simulation.
    folder
        The (temporary) output folder of an instrument bundle; it must exist.
    instrument_cells
        Optional table mapping the instrument's cells to the true ``cell_id`` (for formats
        whose cells are not the true cells, e.g. CosMx cells cut at field-of-view borders).
    instrument_cells_note
        One sentence for the README explaining ``instrument_cells``.

    Returns
    -------
    The ``ground_truth`` folder.

    Examples
    --------
    >>> import tempfile  # doctest: +SKIP
    >>> write_ground_truth(result, tempfile.mkdtemp())  # doctest: +SKIP
    """
    cell_ids = result.cell_gdf["cell_id"].to_numpy()
    feature_names = result.gpar_df["feature_name"].to_numpy().astype(str)
    counts = np.asarray(result.count_array)
    if counts.shape != (len(cell_ids), len(feature_names)):
        msg = (
            f"count_array has shape {counts.shape}; it must be (n_cells, n_genes) = "
            f"({len(cell_ids)}, {len(feature_names)}) to match cell_gdf and gpar_df."
        )
        raise ValueError(msg)
    return write_ground_truth_files(
        folder,
        gpar_df=result.gpar_df,
        molecules=result.trs_df,
        cell_chunks=[result.cell_gdf],
        true_counts=long_counts(counts, cell_ids, feature_names),
        instrument_cells=instrument_cells,
        instrument_cells_note=instrument_cells_note,
    )


def write_ground_truth_files(
    folder: str | Path,
    *,
    gpar_df: pd.DataFrame,
    molecules: pd.DataFrame,
    cell_chunks: Iterable[gpd.GeoDataFrame | CellChunk],
    true_counts: pd.DataFrame,
    instrument_cells: pd.DataFrame | None = None,
    instrument_cells_note: str = "",
) -> Path:
    """Write ``folder/ground_truth/`` from its parts (a streamed slide gives its cells a slice at a time).

    Parameters
    ----------
    folder
        The (temporary) output folder; it must exist.
    gpar_df
        The gene parameters.
    molecules
        ``trs_df`` (a streamed writer may put its own file in its place afterwards).
    cell_chunks
        The true cells in consecutive slices (rows of ``cell_gdf`` or :class:`CellChunk`).
    true_counts
        The true counts in long form (:func:`long_counts`).
    instrument_cells, instrument_cells_note
        As for :func:`write_ground_truth`.

    Returns
    -------
    The ``ground_truth`` folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        msg = f"folder={str(folder)!r} is not allowed; it must be an existing folder."
        raise FileNotFoundError(msg)
    out = folder / GROUND_TRUTH_DIR
    out.mkdir()
    write_parquet(molecules, out / GroundTruthFiles.MOLECULES)
    write_cells_parquet(out / GroundTruthFiles.CELLS, cell_chunks)
    write_parquet(true_counts, out / GroundTruthFiles.COUNTS)
    gpar_df.reset_index(drop=True).to_parquet(out / GroundTruthFiles.GENES, index=False)
    readme = _README.format(
        molecules=GroundTruthFiles.MOLECULES,
        cells=GroundTruthFiles.CELLS,
        counts=GroundTruthFiles.COUNTS,
        genes=GroundTruthFiles.GENES,
    )
    readme += JOIN_README.format(cells=GroundTruthFiles.CELLS, instrument_cells=GroundTruthFiles.INSTRUMENT_CELLS)
    if "expression_baseline" in gpar_df.columns:
        readme += _README_PROGRAMS.format(genes=GroundTruthFiles.GENES)
    if instrument_cells is not None:
        readme += _write_instrument_cells(out, instrument_cells, note=instrument_cells_note)
    (out / GroundTruthFiles.README).write_text(readme, encoding="utf-8")
    return out


def write_instrument_cells(folder: str | Path, instrument_cells: pd.DataFrame, *, note: str) -> Path:
    """Write only ``folder/ground_truth/instrument_cells.parquet`` (and a README saying so).

    For a bundle whose ground truth is written once elsewhere (the CLI's run folder): the
    mapping of this bundle's own cells to the true cells is all of the truth it adds.
    """
    out = Path(folder) / GROUND_TRUTH_DIR
    out.mkdir()
    readme = "# Ground truth of this bundle\n\nThe run's ground truth is in `../../ground_truth/`.\n"
    readme += _write_instrument_cells(out, instrument_cells, note=note)
    (out / GroundTruthFiles.README).write_text(readme, encoding="utf-8")
    return out


def _write_instrument_cells(out: Path, instrument_cells: pd.DataFrame, *, note: str) -> str:
    """Write the instrument cells' table into ``out``; return its README section."""
    instrument_cells.reset_index(drop=True).to_parquet(out / GroundTruthFiles.INSTRUMENT_CELLS, index=False)
    return _README_INSTRUMENT_CELLS.format(
        instrument_cells=GroundTruthFiles.INSTRUMENT_CELLS,
        columns="`, `".join(map(str, instrument_cells.columns)),
        note=note,
    )


def read_ground_truth(folder: str | Path) -> dict[str, Any]:
    """Read a ``ground_truth/`` folder (or the bundle that holds one).

    Parameters
    ----------
    folder
        A bundle written by STpuppeteer, or its ``ground_truth`` folder. A bundle inside a
        run folder of ``stpuppeteer simulate`` reads the run's ground truth.

    Returns
    -------
    A dict with ``trs_df`` (molecules with their true source cell), ``cell_gdf`` (true
    cells, polygons in ``geometry`` and ``nucleus``), ``gpar_df``, ``count_array`` (dense,
    cells in ``cell_gdf`` order × genes in ``gpar_df`` order), and ``instrument_cells``
    (a DataFrame, or ``None`` when the format's cells are the true cells).

    Every frame keys cells by the integer ``cell_id``. ``cell_gdf`` also has each platform's
    id of the cell, ``xenium_cell_id`` (Xenium's ``cell_id`` string) and ``merscope_cell_id``
    (MERSCOPE's ``EntityID``), so an instrument's cell table merges on them directly (a truth
    written before these columns existed gets them on reading). A CosMx bundle's
    ``instrument_cells`` maps CosMx's ``cell`` (``c_1_<fov>_<cell_ID>``, one per FOV a true
    cell crosses) to ``cell_id``; :func:`~STpuppeteer.io.joins.truth_cell_id` maps any
    platform's ids to ``cell_id``.

    Examples
    --------
    >>> truth = read_ground_truth("run/cosmx")  # doctest: +SKIP
    >>> xenium = pd.read_parquet("run/xenium/cells.parquet")  # doctest: +SKIP
    >>> xenium.merge(truth["cell_gdf"], left_on="cell_id", right_on="xenium_cell_id")  # doctest: +SKIP
    >>> truth_cell_id(cosmx_metadata["cell"], platform="cosmx",
    ...               instrument_cells=truth["instrument_cells"])  # doctest: +SKIP
    """
    import geopandas as gpd

    folder = Path(folder)
    bundle = folder.parent if folder.name == GROUND_TRUTH_DIR else folder
    own = bundle / GROUND_TRUTH_DIR if (bundle / GROUND_TRUTH_DIR).is_dir() else folder
    folder = own
    # A bundle the CLI wrote keeps only its own part (CosMx's instrument cells); the run's
    # ground truth is one level up, beside the bundles.
    run_truth = bundle.parent / GROUND_TRUTH_DIR
    if not (folder / GroundTruthFiles.MOLECULES).is_file() and (run_truth / GroundTruthFiles.MOLECULES).is_file():
        folder = run_truth
    if not (folder / GroundTruthFiles.MOLECULES).is_file():
        msg = f"folder={str(folder)!r} holds no {GroundTruthFiles.MOLECULES}; expected a ground_truth folder."
        raise FileNotFoundError(msg)
    trs_df = pd.read_parquet(folder / GroundTruthFiles.MOLECULES)
    cell_gdf = gpd.read_parquet(folder / GroundTruthFiles.CELLS)
    ids = platform_id_columns(cell_gdf["cell_id"].to_numpy())
    cell_gdf = cell_gdf.assign(**{name: ids[name] for name in PLATFORM_ID_COLUMNS if name not in cell_gdf})
    gpar_df = pd.read_parquet(folder / GroundTruthFiles.GENES)
    long = pd.read_parquet(folder / GroundTruthFiles.COUNTS)
    cell_ids = cell_gdf["cell_id"].to_numpy()
    feature_names = gpar_df["feature_name"].astype(str).to_numpy()
    rows = pd.Index(cell_ids).get_indexer(long["cell_id"].to_numpy())
    cols = pd.Index(feature_names).get_indexer(long["feature_name"].astype(str).to_numpy())
    if (rows < 0).any() or (cols < 0).any():
        msg = (
            f"{GroundTruthFiles.COUNTS} names cells or genes that "
            f"{GroundTruthFiles.CELLS} / {GroundTruthFiles.GENES} lack."
        )
        raise ValueError(msg)
    count_array = np.zeros((len(cell_ids), len(feature_names)), dtype=np.int64)
    count_array[rows, cols] = long["count"].to_numpy()
    instrument_path = own / GroundTruthFiles.INSTRUMENT_CELLS
    return {
        "trs_df": trs_df,
        "cell_gdf": cell_gdf,
        "gpar_df": gpar_df,
        "count_array": count_array,
        "instrument_cells": pd.read_parquet(instrument_path) if instrument_path.is_file() else None,
    }
