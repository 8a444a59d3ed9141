"""Bring the truth and a prediction into one shape before any metric is computed.

The truth is a :class:`~STpuppeteer.result.SimulationResult`, a :class:`Truth`, or a
written bundle's ``ground_truth/`` folder. A prediction is a molecule → predicted-cell
table keyed by ``transcript_id`` (from any tool, so the column names and the tokens meaning
"unassigned" are arguments) and/or predicted cell polygons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from STpuppeteer.io.ground_truth import read_ground_truth

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "ASSIGNMENT_CELL_COLUMNS",
    "DEFAULT_UNASSIGNED",
    "Assignment",
    "Truth",
    "align_assignment",
    "as_truth",
    "keyed_labels",
    "lookup_labels",
    "read_assignment",
    "read_shapes",
]

# Tokens that mean "no cell" in common tools' outputs (Xenium: "UNASSIGNED", Proseg/ours: -1,
# Baysor: "" for noise). 0 is *not* in the default: it is a valid simulated cell id, but
# Baysor's numeric ``cell`` column uses it for noise, so callers can add it.
DEFAULT_UNASSIGNED: tuple[Any, ...] = (-1, "-1", "UNASSIGNED", "")
# Column names tried, in order, for the predicted cell when none is given.
ASSIGNMENT_CELL_COLUMNS: tuple[str, ...] = ("cell_id", "cell", "assignment", "cell_label", "segger_cell_id")
# Column names tried, in order, for the cell id of predicted polygons (MERSCOPE: EntityID).
SHAPES_CELL_COLUMNS: tuple[str, ...] = ("cell_id", "EntityID", "cell")
CONTROL_ORIGIN = "control"
# Column names tried, in order, for the label of a cell (--pred-labels) or molecule (--pred-regions).
LABEL_COLUMNS: tuple[str, ...] = ("celltype", "label", "cluster", "cell_type")
REGION_COLUMNS: tuple[str, ...] = ("region", "domain", "niche", "label", "cluster")


@dataclass(frozen=True)
class Truth:
    """The parts of a simulation that scoring needs.

    Attributes
    ----------
    gpar_df
        Gene parameters; ``feature_name`` order is the column order of ``count_array``.
    cell_gdf
        True cells; ``geometry`` (cell polygon), ``nucleus`` polygon, ``cell_id``, ``celltype``.
        Row ``i`` is row ``i`` of ``count_array``.
    count_array
        True counts, cells × genes.
    trs_df
        Molecules with ``transcript_id``, ``x``, ``y``, ``feature_name``, ``cell_id`` (true
        source, -1 none), ``origin`` and ``landed_cell_id``.
    """

    gpar_df: pd.DataFrame
    cell_gdf: gpd.GeoDataFrame
    count_array: np.ndarray
    trs_df: pd.DataFrame


def _from_mapping(parts: Mapping[str, Any]) -> Truth:
    missing = [k for k in ("gpar_df", "cell_gdf", "count_array", "trs_df") if k not in parts]
    if missing:
        msg = f"truth is missing {missing}; a ground truth needs gpar_df, cell_gdf, count_array and trs_df."
        raise ValueError(msg)
    return Truth(
        gpar_df=parts["gpar_df"],
        cell_gdf=parts["cell_gdf"],
        count_array=np.asarray(parts["count_array"]),
        trs_df=parts["trs_df"],
    )


def _read_folder(path: Path) -> Truth:
    return _from_mapping(read_ground_truth(path))


def as_truth(truth: Any) -> Truth:
    """Normalise any accepted form of the truth to a :class:`Truth`.

    Parameters
    ----------
    truth
        A :class:`~STpuppeteer.result.SimulationResult` (or anything with the four
        attributes), a :class:`Truth`, a mapping with the four keys, or the path of a written
        bundle (or of its ``ground_truth/`` folder).

    Returns
    -------
    The :class:`Truth`.
    """
    if isinstance(truth, Truth):
        return truth
    if isinstance(truth, str | Path):
        path = Path(truth)
        if not path.is_dir():
            msg = f"truth={str(truth)!r} is not a folder; pass a bundle folder with ground_truth/ in it."
            raise ValueError(msg)
        return _read_folder(path)
    if isinstance(truth, Mapping):
        return _from_mapping(truth)
    if all(hasattr(truth, k) for k in ("gpar_df", "cell_gdf", "count_array", "trs_df")):
        return _from_mapping({k: getattr(truth, k) for k in ("gpar_df", "cell_gdf", "count_array", "trs_df")})
    msg = f"truth of type {type(truth).__name__} is not allowed; pass a SimulationResult, Truth, dict or folder."
    raise TypeError(msg)


def scored_molecules(trs_df: pd.DataFrame, *, include_controls: bool = False) -> np.ndarray:
    """Boolean mask of the molecules that are scored (negative controls left out by default).

    Parameters
    ----------
    trs_df
        The truth's molecule table.
    include_controls
        Score ``origin == 'control'`` molecules too (they have no source cell).

    Returns
    -------
    A boolean array, one entry per row of ``trs_df``.
    """
    if include_controls or "origin" not in trs_df:
        return np.ones(len(trs_df), dtype=bool)
    return (trs_df["origin"] != CONTROL_ORIGIN).to_numpy()


@dataclass(frozen=True)
class Assignment:
    """A prediction aligned to the truth's molecules.

    Attributes
    ----------
    codes
        One entry per truth molecule: the index into ``cell_ids`` of its predicted cell, or -1.
    cell_ids
        The predicted cells' original identifiers (any type), in code order.
    coverage
        Fraction of the truth's molecules present in the prediction table (missing ones count
        as unassigned: tools often drop low-quality molecules).
    """

    codes: np.ndarray
    cell_ids: np.ndarray
    coverage: float


def _normalise_key(values: pd.Series | np.ndarray) -> pd.Index:
    # Truth ids are integers; a CSV may hold them as strings or floats. Compare as int64
    # when every value is integral, else as strings.
    series = pd.Series(values)
    if pd.api.types.is_numeric_dtype(series):
        as_float = series.to_numpy(dtype=float)
        if np.all(np.isfinite(as_float)) and np.all(as_float == np.round(as_float)):
            return pd.Index(series.to_numpy().astype(np.int64))
        return pd.Index(series.astype(str))
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().all() and (numeric == numeric.round()).all():
        return pd.Index(numeric.to_numpy().astype(np.int64))
    return pd.Index(series.astype(str))


def _unassigned_mask(cells: pd.Series, unassigned: Sequence[Any]) -> np.ndarray:
    mask = cells.isna().to_numpy()
    tokens = {v for v in unassigned if v is not None}
    str_tokens = {str(v) for v in tokens}
    if pd.api.types.is_numeric_dtype(cells):
        num_tokens = [float(v) for v in tokens if _is_number(v)]
        mask |= cells.isin(num_tokens).to_numpy()
    else:
        mask |= cells.astype(str).isin(str_tokens).to_numpy()
    return mask


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def align_assignment(
    transcript_ids: np.ndarray | pd.Series,
    table: pd.DataFrame,
    *,
    transcript_col: str = "transcript_id",
    cell_col: str | None = None,
    unassigned: Sequence[Any] = DEFAULT_UNASSIGNED,
) -> Assignment:
    """Align a molecule → predicted-cell table to the truth's molecules.

    Parameters
    ----------
    transcript_ids
        The truth's ``transcript_id`` values, in the order the metrics use.
    table
        The prediction: one row per molecule, a transcript id column and a cell column.
    transcript_col
        Name of the transcript id column in ``table``.
    cell_col
        Name of the predicted cell column; ``None`` tries :data:`ASSIGNMENT_CELL_COLUMNS`.
    unassigned
        Cell values meaning "no cell" (missing values always do).

    Returns
    -------
    The :class:`Assignment`.

    Examples
    --------
    >>> table = pd.DataFrame({"transcript_id": [3, 1, 2], "cell": ["a", "UNASSIGNED", "a"]})
    >>> a = align_assignment(np.array([1, 2, 3, 4]), table)
    >>> a.codes.tolist(), a.cell_ids.tolist(), a.coverage
    ([-1, 0, 0, -1], ['a'], 0.75)
    """
    if transcript_col not in table:
        msg = f"transcript_col={transcript_col!r} is not a column of the prediction; columns: {list(table.columns)}."
        raise ValueError(msg)
    if cell_col is None:
        cell_col = next((c for c in ASSIGNMENT_CELL_COLUMNS if c in table), None)
        if cell_col is None:
            msg = f"cell_col=None and none of {list(ASSIGNMENT_CELL_COLUMNS)} is a column; pass cell_col."
            raise ValueError(msg)
    elif cell_col not in table:
        msg = f"cell_col={cell_col!r} is not a column of the prediction; columns: {list(table.columns)}."
        raise ValueError(msg)
    key = _normalise_key(table[transcript_col])
    if key.has_duplicates:
        dup = key[key.duplicated()][0]
        msg = f"transcript_col={transcript_col!r} has duplicated id {dup!r}; one row per molecule is allowed."
        raise ValueError(msg)
    cells = table[cell_col].reset_index(drop=True)
    none = _unassigned_mask(cells, unassigned)
    pred_codes, cell_ids = pd.factorize(cells.where(~none), use_na_sentinel=True)
    row = key.get_indexer(_normalise_key(transcript_ids))
    found = row >= 0
    codes = np.full(len(row), -1, dtype=np.int64)
    codes[found] = pred_codes[row[found]]
    coverage = float(found.mean()) if len(row) else 1.0
    return Assignment(codes=codes, cell_ids=np.asarray(cell_ids), coverage=coverage)


def read_assignment(path: str | Path, *, what: str = "pred") -> pd.DataFrame:
    """Read a molecule → cell table (or any prediction table) from CSV/TSV (optionally gzipped) or Parquet.

    Parameters
    ----------
    path
        The file.
    what
        The input's name in error messages.

    Returns
    -------
    The table, as read.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if name.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path)
    if name.endswith((".tsv", ".tsv.gz", ".txt")):
        return pd.read_csv(path, sep="\t")
    msg = f"{what}={str(path)!r} has an unknown extension; allowed are .csv, .tsv, .parquet (optionally .gz)."
    raise ValueError(msg)


def _polygons_from_vertices(df: pd.DataFrame, *, cell_col: str, source: Path) -> gpd.GeoDataFrame:
    """Polygons from a vertex table (Xenium's ``cell_boundaries.parquet``: one row per vertex)."""
    import geopandas as gpd
    import shapely

    xy = next(((x, y) for x, y in (("vertex_x", "vertex_y"), ("x", "y")) if x in df and y in df), None)
    if xy is None or cell_col not in df:
        msg = (
            f"pred_shapes={str(source)!r} has neither a 'geometry' column nor a vertex table "
            f"({cell_col}, vertex_x, vertex_y); columns: {list(df.columns)}."
        )
        raise ValueError(msg)
    # Vertices of one polygon are consecutive rows; factorize keeps first-seen order.
    codes, ids = pd.factorize(df[cell_col], sort=False)
    coords = df[list(xy)].to_numpy(float)
    rings = shapely.linearrings(coords, indices=codes)
    return gpd.GeoDataFrame({"cell_id": np.asarray(ids)}, geometry=list(shapely.polygons(rings)))


def read_shapes(source: str | Path | gpd.GeoDataFrame, *, cell_col: str | None = None) -> gpd.GeoDataFrame:
    """Predicted cell polygons as a GeoDataFrame with ``cell_id`` and ``geometry``.

    Parameters
    ----------
    source
        A GeoDataFrame, a GeoParquet / plain Parquet file with WKB geometry, or a Parquet
        vertex table with one row per vertex (``cell_id``, ``vertex_x``, ``vertex_y``, as in
        Xenium's ``cell_boundaries.parquet``).
    cell_col
        Column holding the predicted cell id; ``None`` tries :data:`SHAPES_CELL_COLUMNS`, then
        the index. Repeated ids (MERSCOPE's one row per z plane) keep their first polygon.

    Returns
    -------
    A GeoDataFrame with columns ``cell_id`` and ``geometry`` (empty geometries dropped).
    """
    import geopandas as gpd
    import shapely

    if isinstance(source, gpd.GeoDataFrame):
        gdf = source
    else:
        path = Path(source)
        try:
            gdf = gpd.read_parquet(path)
        except (ValueError, KeyError):  # plain Parquet without GeoParquet metadata
            df = pd.read_parquet(path)
            wkb = next((c for c in ("geometry", "Geometry") if c in df), None)  # MERSCOPE: Geometry
            if wkb is not None:
                geoms = shapely.from_wkb(df[wkb].to_numpy())
                gdf = gpd.GeoDataFrame(df.drop(columns=wkb), geometry=geoms)
            else:
                gdf = _polygons_from_vertices(df, cell_col=cell_col or "cell_id", source=path)
    if cell_col is None:
        cell_col = next((c for c in SHAPES_CELL_COLUMNS if c in gdf), None)
    if cell_col is None:
        ids = gdf.index.to_numpy()
    elif cell_col in gdf:
        ids = gdf[cell_col].to_numpy()
    else:
        msg = f"cell_col={cell_col!r} is not a column of the shapes; columns: {list(gdf.columns)}."
        raise ValueError(msg)
    geoms = np.asarray(gdf.geometry.to_numpy(), dtype=object)
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    # MERSCOPE repeats each cell once per z plane: keep the first polygon of each cell.
    keep &= ~pd.Series(ids).duplicated().to_numpy()
    return gpd.GeoDataFrame({"cell_id": ids[keep]}, geometry=list(geoms[keep]))


def keyed_labels(
    labels: pd.Series | Mapping[Any, Any] | pd.DataFrame,
    *,
    id_cols: Sequence[str],
    value_cols: Sequence[str],
    what: str,
) -> pd.Series:
    """A label per id, from a Series, a dict or a table with an id column and a label column.

    Parameters
    ----------
    labels
        Series/dict keyed by id, or a table: the first of ``id_cols`` present (else the
        index) gives the id, the first of ``value_cols`` present the label.
    id_cols, value_cols
        Column names tried, in order.
    what
        The input's name in error messages (e.g. ``"--pred-labels"``).

    Returns
    -------
    Labels indexed by the normalised ids (integers when every id is integral).

    Examples
    --------
    >>> t = pd.DataFrame({"cell": ["7", "8"], "cluster": ["B", "A"]})
    >>> keyed_labels(t, id_cols=["cell"], value_cols=["cluster"], what="labels").to_dict()
    {7: 'B', 8: 'A'}
    """
    if isinstance(labels, pd.DataFrame):
        value_col = next((c for c in value_cols if c in labels), None)
        if value_col is None:
            msg = f"{what} has none of the label columns {list(value_cols)}; columns: {list(labels.columns)}."
            raise ValueError(msg)
        id_col = next((c for c in id_cols if c in labels and c != value_col), None)
        ids = labels.index if id_col is None else labels[id_col]
        series = pd.Series(labels[value_col].to_numpy(), index=ids)
    else:
        series = pd.Series(labels)
    if series.isna().any():
        msg = f"{what} has {int(series.isna().sum())} missing label(s); give every listed id a label."
        raise ValueError(msg)
    series.index = _normalise_key(series.index.to_numpy())
    if series.index.has_duplicates:
        dup = series.index[series.index.duplicated()][0]
        msg = f"{what} lists id {dup!r} more than once; one row per id is allowed."
        raise ValueError(msg)
    return series


def lookup_labels(
    series: pd.Series, known: np.ndarray, wanted: np.ndarray, *, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Labels of ``wanted`` ids, after checking that every labelled id is one of ``known``.

    Parameters
    ----------
    series
        Labels from :func:`keyed_labels`.
    known
        Every id the labels may name (e.g. all predicted cells).
    wanted
        The ids to look up, in the order the scores need.

    Returns
    -------
    ``(labels, found)``: the labels of the ``wanted`` ids that have one, and the boolean
    mask of those ids.
    """
    known_key = _normalise_key(np.asarray(known))
    if series.index.dtype != known_key.dtype:  # e.g. integer ids against string ids
        series = pd.Series(series.to_numpy(), index=pd.Index(series.index.astype(str)))
        known_key = pd.Index(known_key.astype(str))
    unknown = ~series.index.isin(known_key)
    if unknown.any():
        example = series.index[unknown][0]
        example = example.item() if isinstance(example, np.generic) else example
        msg = (
            f"{what} names {int(unknown.sum())} of {len(series)} id(s) that are not in the prediction/truth, "
            f"e.g. {example!r}; check the id column."
        )
        raise ValueError(msg)
    wanted_key = _normalise_key(np.asarray(wanted)) if len(wanted) else pd.Index([])
    if wanted_key.dtype != series.index.dtype:
        wanted_key = pd.Index(wanted_key.astype(str))
    pos = series.index.get_indexer(wanted_key)
    found = pos >= 0
    return series.to_numpy()[pos[found]], found
