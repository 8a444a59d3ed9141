"""One call that scores a prediction against the truth: :func:`score`, and its CLI twin."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from STpuppeteer.io.atomic import atomic_output_file
from STpuppeteer.io.export import read_assignment as read_tool_output
from STpuppeteer.metrics.assignment import score_assignment
from STpuppeteer.metrics.baselines import (
    assign_by_polygons,
    expansion_assignment,
    expansion_shapes,
    nucleus_assignment,
    oracle_assignment,
)
from STpuppeteer.metrics.celltyping import score_labels
from STpuppeteer.metrics.definitions import BASELINE_COLUMNS
from STpuppeteer.metrics.expression import count_matrix, exclusive_marker_pairs, mecr, rowwise_pearson
from STpuppeteer.metrics.inputs import (
    ASSIGNMENT_CELL_COLUMNS,
    DEFAULT_UNASSIGNED,
    LABEL_COLUMNS,
    REGION_COLUMNS,
    Truth,
    align_assignment,
    as_truth,
    keyed_labels,
    lookup_labels,
    read_assignment,
    read_shapes,
    scored_molecules,
)
from STpuppeteer.metrics.report import format_comparison
from STpuppeteer.metrics.segmentation import score_segmentation

if TYPE_CHECKING:
    import geopandas as gpd

    from STpuppeteer.metrics.matching import MatchMethod

__all__ = ["score", "score_baselines", "score_cli"]


def _score_regions(t: Truth, trs: pd.DataFrame, source_row: np.ndarray, regions: Any, transcript_col: str) -> dict:
    """Per-molecule regions against the true type of each molecule's source cell."""
    series = keyed_labels(regions, id_cols=(transcript_col, "transcript_id"), value_cols=REGION_COLUMNS, what="regions")
    has_source = source_row >= 0
    predicted, found = lookup_labels(
        series, t.trs_df["transcript_id"].to_numpy(), trs["transcript_id"].to_numpy()[has_source], what="regions"
    )
    true_type = t.cell_gdf["celltype"].to_numpy()[source_row[has_source][found]]
    scores = score_labels(true_type, predicted)
    return {
        "ari": scores["ari"],
        "accuracy_best_map": scores["accuracy_best_map"],
        "n_molecules": float(found.sum()),
        "coverage": float(found.mean()) if len(found) else np.nan,
    }


def score(
    truth: Any,
    *,
    assignment: pd.DataFrame | str | Path | None = None,
    shapes: gpd.GeoDataFrame | str | Path | None = None,
    labels: pd.Series | Mapping[Any, Any] | pd.DataFrame | None = None,
    regions: pd.Series | Mapping[Any, Any] | pd.DataFrame | None = None,
    transcript_col: str = "transcript_id",
    cell_col: str | None = None,
    unassigned: Sequence[Any] = DEFAULT_UNASSIGNED,
    shapes_cell_col: str | None = None,
    method: MatchMethod = "hungarian",
    thresholds: Sequence[float] | None = None,
    cover: float = 0.5,
    include_controls: bool = False,
) -> dict[str, dict[str, float]]:
    """Score a segmentation / assignment (and optionally cell typing) against the truth.

    Parameters
    ----------
    truth
        A :class:`~STpuppeteer.result.SimulationResult`, a bundle folder with
        ``ground_truth/``, or anything :func:`~STpuppeteer.metrics.inputs.as_truth` accepts.
    assignment
        Molecule → predicted cell table (or its CSV/Parquet path). Molecules missing from it
        count as unassigned. Without it, molecules are assigned by ``shapes``.
    shapes
        Predicted cell polygons (GeoDataFrame or GeoParquet path); adds the polygon scores.
    labels
        Predicted cell type per predicted cell: a Series/dict keyed by predicted cell id, or
        a table with ``cell_id`` and ``celltype`` (or ``label``/``cluster``). Without a
        prediction of cells, keys are true ``cell_id`` (typing on the true segmentation).
        A predicted cell's label is compared with the true type of the true cell it is
        matched to (the one-to-one matching on shared molecules the assignment scores use);
        unmatched predicted cells are not typed. Ids not among the predicted cells are an error.
    regions
        Region / domain label per molecule: a Series/dict keyed by ``transcript_id``, or a
        table with ``transcript_id`` and ``region`` (or ``domain``/``niche``/``label``/
        ``cluster``). Scored against the true type of each molecule's source cell (molecules
        without one, ambient or control, are left out); unknown molecule ids are an error.
    transcript_col, cell_col, unassigned
        How to read ``assignment`` (see :func:`~STpuppeteer.metrics.inputs.align_assignment`).
    shapes_cell_col
        Column of ``shapes`` holding the predicted cell id (default ``cell_id`` or the index).
    method
        Cell matching, ``"hungarian"`` (maximum total overlap) or ``"max_overlap"``.
    thresholds
        IoU thresholds for the F1 scores (default 0.5, 0.55, …, 0.95).
    cover
        Fraction of an object lying in another that makes it a piece, for over/under-segmentation.
    include_controls
        Also score negative-control molecules (by default they are left out).

    Returns
    -------
    ``{"assignment": {...}, "segmentation": {...}, "expression": {...}, "typing": {...},
    "regions": {...}}``,
    each a flat dict of floats; sections without input are left out.

    Examples
    --------
    >>> from STpuppeteer.pipeline.simulator import simulate
    >>> from STpuppeteer.metrics import expansion_assignment, oracle_assignment
    >>> result = simulate(seed=0, n_cells=100)
    >>> score(result, assignment=oracle_assignment(result, "source"))["assignment"]["accuracy"]
    1.0
    >>> s = score(result, assignment=expansion_assignment(result, 5.0))
    >>> 0 < s["assignment"]["precision"] <= 1
    True
    """
    t = as_truth(truth)
    thresholds_arr = None if thresholds is None else np.asarray(thresholds, dtype=float)
    keep = scored_molecules(t.trs_df, include_controls=include_controls)
    trs = t.trs_df.loc[keep]
    cell_ids = t.cell_gdf["cell_id"].to_numpy()
    source_row = pd.Index(cell_ids).get_indexer(trs["cell_id"].to_numpy())
    out: dict[str, dict[str, float]] = {}
    region_scores = None if regions is None else _score_regions(t, trs, source_row, regions, transcript_col)
    label_series = None
    if labels is not None:
        id_cols = tuple(c for c in (cell_col, *ASSIGNMENT_CELL_COLUMNS) if c is not None)
        label_series = keyed_labels(labels, id_cols=id_cols, value_cols=LABEL_COLUMNS, what="labels")

    shapes_gdf = None if shapes is None else read_shapes(shapes, cell_col=shapes_cell_col)
    table = None
    if isinstance(assignment, str | Path):
        table = read_assignment(assignment)
    elif assignment is not None:
        table = assignment
    elif shapes_gdf is not None:
        table = assign_by_polygons(trs, shapes_gdf.geometry.to_numpy(), shapes_gdf["cell_id"].to_numpy())
        cell_col, unassigned = "cell_id", (-1,)

    if shapes_gdf is not None:
        out["segmentation"] = score_segmentation(
            t.cell_gdf.geometry.to_numpy(),
            shapes_gdf.geometry.to_numpy(),
            thresholds=thresholds_arr,
            method=method,
            cover=cover,
        )

    gene_code = pd.Index(t.gpar_df["feature_name"].to_numpy()).get_indexer(trs["feature_name"].to_numpy())
    pairs = exclusive_marker_pairs(t.gpar_df)
    n_genes = len(t.gpar_df)
    true_mecr = mecr(t.count_array, pairs)

    if table is None:
        if label_series is not None:
            predicted, found = lookup_labels(label_series, cell_ids, cell_ids, what="labels")
            out["typing"] = score_labels(t.cell_gdf["celltype"].to_numpy()[found], predicted)
        out["expression"] = {"mecr_true_counts": true_mecr}
        return out if region_scores is None else {**out, "regions": region_scores}

    aligned = align_assignment(
        trs["transcript_id"].to_numpy(), table, transcript_col=transcript_col, cell_col=cell_col, unassigned=unassigned
    )
    n_pred = len(aligned.cell_ids)
    scores = score_assignment(
        source_row,
        aligned.codes,
        n_true=len(cell_ids),
        n_pred=n_pred,
        origin=trs["origin"].to_numpy() if "origin" in trs else None,
        cell_ids=cell_ids,
        method=method,
        thresholds=thresholds_arr,
        cover=cover,
    )
    out["assignment"] = {"coverage": aligned.coverage, **scores.summary}

    pred_counts = count_matrix(aligned.codes, gene_code, n_pred, n_genes)
    ti, pj = scores.true_index, scores.pred_index
    corr = rowwise_pearson(pred_counts[pj], t.count_array[ti]) if len(ti) else np.array([])
    finite = corr[np.isfinite(corr)]
    out["expression"] = {
        "mean_correlation": float(finite.mean()) if len(finite) else np.nan,
        "median_correlation": float(np.median(finite)) if len(finite) else np.nan,
        "n_correlated_cells": float(len(finite)),
        "mecr": mecr(pred_counts, pairs),
        "mecr_true_counts": true_mecr,
    }

    if label_series is not None:
        predicted, found = lookup_labels(label_series, aligned.cell_ids, aligned.cell_ids[pj], what="labels")
        out["typing"] = score_labels(t.cell_gdf["celltype"].to_numpy()[ti[found]], predicted)
    return out if region_scores is None else {**out, "regions": region_scores}


def score_baselines(
    truth: Any,
    *,
    distances: Sequence[float] = (5.0, 15.0),
    method: MatchMethod = "hungarian",
    shapes: bool = True,
) -> pd.DataFrame:
    """Score the built-in baselines: nucleus, expansion by each distance, and both oracles.

    Parameters
    ----------
    truth
        Anything :func:`~STpuppeteer.metrics.inputs.as_truth` accepts.
    distances
        Expansion distances in µm.
    method
        Cell matching method.
    shapes
        Also score the baselines' polygons (nucleus, expanded nuclei, true cells).

    Returns
    -------
    One row per baseline (index ``nucleus``, ``expansion_5``, …, ``oracle_polygons``,
    ``oracle_source``), one column per ``section.metric``.
    """
    import geopandas as gpd

    t = as_truth(truth)
    runs: dict[str, tuple[pd.DataFrame, gpd.GeoDataFrame | None]] = {}
    nuclei = gpd.GeoDataFrame({"cell_id": t.cell_gdf["cell_id"].to_numpy()}, geometry=list(t.cell_gdf["nucleus"]))
    cells = gpd.GeoDataFrame({"cell_id": t.cell_gdf["cell_id"].to_numpy()}, geometry=list(t.cell_gdf.geometry))
    runs["nucleus"] = (nucleus_assignment(t), nuclei if shapes else None)
    for d in distances:
        runs[f"expansion_{d:g}"] = (expansion_assignment(t, d), expansion_shapes(t, d) if shapes else None)
    runs["oracle_polygons"] = (oracle_assignment(t, "polygons"), cells if shapes else None)
    runs["oracle_source"] = (oracle_assignment(t, "source"), None)
    rows = {}
    for name, (table, polys) in runs.items():  # a handful of baselines
        result = score(t, assignment=table, shapes=polys, cell_col="cell_id", unassigned=(-1,), method=method)
        rows[name] = {f"{s}.{k}": v for s, sec in result.items() for k, v in sec.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def _jsonable(scores: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
    def clean(v: float) -> float | None:
        return None if isinstance(v, float) and math.isnan(v) else v

    return {s: {k: clean(v) for k, v in sec.items()} for s, sec in scores.items()}


def _read_prediction(pred_path: str | Path | None, pred_tool: str | None) -> pd.DataFrame | None:
    if pred_path is None:
        return None
    if pred_tool is None:
        return read_assignment(pred_path)
    return read_tool_output(pred_path, tool=pred_tool)  # type: ignore[arg-type]


def score_cli(
    truth_dir: str | Path,
    pred_path: str | Path | None,
    pred_shapes_path: str | Path | None = None,
    *,
    pred_labels_path: str | Path | None = None,
    pred_regions_path: str | Path | None = None,
    out_json: str | Path | None = None,
    cell_col: str | None = None,
    transcript_col: str = "transcript_id",
    unassigned: Sequence[Any] = DEFAULT_UNASSIGNED,
    pred_tool: str | None = None,
) -> dict[str, dict[str, float]]:
    """Score files on disk beside the floor and ceiling baselines; print, optionally write JSON.

    The printed table has one row per metric and the columns ``prediction``, ``floor`` (the
    nucleus baseline) and ``ceiling`` (the true polygons), see
    :data:`~STpuppeteer.metrics.definitions.BASELINE_COLUMNS`; baselines have no typing or
    region scores. The JSON is ``{"prediction": scores, "floor": scores, "ceiling": scores,
    "baselines": {"floor": "nucleus", "ceiling": "oracle_polygons"}}``.

    Parameters
    ----------
    truth_dir
        A bundle folder with ``ground_truth/`` (or that folder itself).
    pred_path
        Molecule → cell table (CSV/TSV/Parquet), or ``None``.
    pred_shapes_path
        Predicted polygons (GeoParquet); the baselines' polygons are then scored too.
    pred_labels_path
        Predicted cell → label table (see ``labels`` of :func:`score`).
    pred_regions_path
        Molecule → region table (see ``regions`` of :func:`score`).
    out_json
        Where to write the scores (NaN written as ``null``); replaced if it exists.
    cell_col, transcript_col
        Column names of the prediction tables (default: guessed / ``transcript_id``).
    unassigned
        Cell values that mean "no cell" in the prediction table.
    pred_tool
        ``pred_path`` is this tool's own output (``"baysor"``, ``"proseg"``, ``"comseg"``,
        ``"sopa"``), read with :func:`STpuppeteer.io.read_assignment`.

    Returns
    -------
    The prediction's scores, as :func:`score` returns them.
    """
    paths = (pred_path, pred_shapes_path, pred_labels_path, pred_regions_path)
    if all(p is None for p in paths):
        msg = "no prediction given; pass a molecule → cell table, polygons, cell labels or molecule regions."
        raise ValueError(msg)
    truth = as_truth(truth_dir)
    scores = score(
        truth,
        assignment=_read_prediction(pred_path, pred_tool),
        shapes=pred_shapes_path,
        labels=None if pred_labels_path is None else read_assignment(pred_labels_path, what="pred_labels"),
        regions=None if pred_regions_path is None else read_assignment(pred_regions_path, what="pred_regions"),
        cell_col=cell_col,
        transcript_col=transcript_col,
        unassigned=unassigned,
    )
    baselines = score_baselines(truth, distances=(), shapes=pred_shapes_path is not None)
    runs = {"prediction": scores}
    for column, name in BASELINE_COLUMNS.items():
        row = baselines.loc[name].dropna()
        runs[column] = {}
        for key, value in row.items():
            section, metric = str(key).split(".", 1)
            runs[column].setdefault(section, {})[metric] = float(value)
    print(format_comparison(runs))
    legend = "; ".join(f"{k}: {v} baseline" for k, v in BASELINE_COLUMNS.items())
    print(f"{legend} (definitions: stpuppeteer score --help)")
    if out_json is not None:
        doc = {k: _jsonable(v) for k, v in runs.items()} | {"baselines": BASELINE_COLUMNS}
        with atomic_output_file(out_json, overwrite=True) as tmp:
            Path(tmp).write_text(json.dumps(doc, indent=2) + "\n")
    return scores
