"""Every score has a one-line definition, a place in docs/metrics.md and in `score --help`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from STpuppeteer.metrics import (
    align_assignment,
    as_truth,
    expansion_shapes,
    format_comparison,
    oracle_assignment,
    score,
    score_assignment,
)
from STpuppeteer.metrics.definitions import METRIC_DEFINITIONS, metrics_epilog
from STpuppeteer.metrics.inputs import scored_molecules
from STpuppeteer.metrics.matching import IOU_THRESHOLDS

if TYPE_CHECKING:
    from STpuppeteer.metrics import Truth

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def _full_scores(truth: Truth) -> dict[str, dict[str, float]]:
    labels = truth.cell_gdf[["cell_id", "celltype"]]
    regions = truth.trs_df[["transcript_id", "celltype"]].rename(columns={"celltype": "region"})
    return score(truth, assignment=oracle_assignment(truth, "polygons"), shapes=expansion_shapes(truth, 5.0),
                 labels=labels, regions=regions)


def test_every_score_is_defined_documented_and_in_the_help(xenium_run: Path) -> None:
    scores = _full_scores(as_truth(xenium_run))
    produced = {(s, m) for s, sec in scores.items() for m in sec}
    defined = {(s, m) for s, sec in METRIC_DEFINITIONS.items() for m in sec}
    assert produced == defined
    docs, epilog = DOCS.read_text(), metrics_epilog()
    for section, metric in defined:
        assert f"## {section}" in docs, section
        assert f"`{metric}`" in docs, metric
        assert f"    {metric} " in epilog, metric


def test_comparison_table_aligns_and_marks_missing_values() -> None:
    text = format_comparison({"prediction": {"assignment": {"recall": 0.9, "n_molecules": 1234.0}},
                              "floor": {"assignment": {"recall": 0.1}}, "ceiling": {}})
    lines = text.splitlines()
    assert lines[0].split() == ["assignment", "prediction", "floor", "ceiling"]
    assert lines[1].split() == ["recall", "0.9000", "0.1000", "—"]
    assert lines[2].split() == ["n_molecules", "1,234", "—", "—"]
    assert len({len(line) for line in lines}) == 1


def test_jaccard_mean_is_the_f1_averaged_over_thresholds(xenium_run: Path) -> None:
    """The true polygons find nearly every cell at Jaccard 0.5, but no cell's molecule set is clean."""
    t = as_truth(xenium_run)
    s = score(t, assignment=oracle_assignment(t, "polygons"), shapes=t.cell_gdf[["cell_id", "geometry"]])
    assert s["segmentation"]["f1_50"] == s["segmentation"]["f1_mean"] == 1.0  # exact polygons
    trs = t.trs_df[scored_molecules(t.trs_df)]
    ids = t.cell_gdf["cell_id"].to_numpy()
    aligned = align_assignment(trs["transcript_id"].to_numpy(), oracle_assignment(t, "polygons"),
                               cell_col="cell_id", unassigned=(-1,))
    source_row = pd.Index(ids).get_indexer(trs["cell_id"].to_numpy())  # -1: no source
    per_cell = score_assignment(source_row, aligned.codes, n_true=len(ids), n_pred=len(aligned.cell_ids)).per_cell
    jaccard = per_cell["jaccard"].to_numpy()
    # In a confluent tissue a small cell next to a leaky neighbour can fall below 0.5.
    assert len(jaccard) == len(ids) and (jaccard >= 0.5).mean() >= 0.95 and jaccard.max() < 0.95
    assert s["assignment"]["f1_jaccard50"] == (jaccard >= 0.5).mean()
    expected = np.mean([(jaccard >= th).mean() for th in IOU_THRESHOLDS])
    assert s["assignment"]["f1_jaccard_mean"] == expected < 0.8
